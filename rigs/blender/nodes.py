"""Small shader-node building helpers shared by the light group and the material node trees.

Kept apart so that `lighting` (the shared group) and `shading` (the per-material trees) build
their math the same way without one importing the other's internals.
"""

from __future__ import annotations

import bpy
import numpy as np


def math_node(
    nodes: bpy.types.Nodes, operation: str, a: object, b: object = None, vector: bool = False
) -> bpy.types.NodeSocket:
    """A (vector) math node fed by sockets (linked) or constants (set); returns its output socket."""
    node = nodes.new("ShaderNodeVectorMath" if vector else "ShaderNodeMath")
    node.operation = operation
    links = node.id_data.links
    for socket, value in ((node.inputs[0], a), (node.inputs[1], b)):
        if value is None:
            continue
        if isinstance(value, bpy.types.NodeSocket):
            links.new(value, socket)
        else:
            socket.default_value = value
    return node.outputs["Vector" if vector and operation != "DOT_PRODUCT" else "Value"]


def value_node(nodes: bpy.types.Nodes, name: str, value: float) -> bpy.types.ShaderNodeValue:
    """A named Value node (found again by name to change its value)."""
    node = nodes.new("ShaderNodeValue")
    node.name = node.label = name
    node.outputs[0].default_value = value
    return node


def vector_node(
    nodes: bpy.types.Nodes, name: str, value: tuple[float, float, float]
) -> bpy.types.ShaderNodeCombineXYZ:
    """A named Combine XYZ node holding a constant vector (changed later with `set_vector`)."""
    node = nodes.new("ShaderNodeCombineXYZ")
    node.name = node.label = name
    for i in range(3):
        node.inputs[i].default_value = value[i]
    return node


def set_vector(node: bpy.types.ShaderNodeCombineXYZ, value: np.ndarray) -> None:
    """Write a vector into a `vector_node`."""
    for i in range(3):
        node.inputs[i].default_value = float(value[i])


def combine_gray(nodes: bpy.types.Nodes, value: bpy.types.NodeSocket) -> bpy.types.NodeSocket:
    """A float socket as an (x, x, x) vector."""
    combine = nodes.new("ShaderNodeCombineXYZ")
    for i in range(3):
        nodes.id_data.links.new(value, combine.inputs[i])
    return combine.outputs[0]
