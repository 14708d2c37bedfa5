"""The shared lighting node group every material reads, and the cheap per-image edits of it.

Every shading preset is emission-only (no real lights), so renders are noise-free and the
samples only anti-alias edges. All materials read one shared node group (`LIGHT_GROUP`) holding
the ambient and diffuse strengths, the light direction and the point lights' positions: changing
the lighting or the framing per image edits values in that group instead of rebuilding materials.
That is why it lives apart from the per-material trees (`shading`): the renderer touches only this.
"""

from __future__ import annotations

import bpy
import numpy as np

from thagen.rigs.blender.nodes import math_node, set_vector, value_node, vector_node

LIGHT_GROUP = "thagen_light"
POINT_LIGHT_COUNT = 2  # point lights in the shared group (the 'point' preset's key and fill)


def light_group() -> bpy.types.ShaderNodeTree:
    """The shared group: outputs ambient, diffuse, N.L, the sphere-map UV and, per point light,
    N.L toward it and its weight.

    Every vector is in world space (the renderer writes the camera's axes in), since Cycles'
    and Blender's "camera space" disagree on the sign of z.
    """
    group = bpy.data.node_groups.get(LIGHT_GROUP)
    if group is not None and all(name in group.interface.items_tree for name in _GROUP_OUTPUTS):
        return group
    if group is None:
        group = bpy.data.node_groups.new(LIGHT_GROUP, "ShaderNodeTree")
        group.use_fake_user = True  # survives orphan purges between characters
    else:  # made by an older thagen in this session: rebuild in place, users keep the group
        group.nodes.clear()
        group.interface.clear()
    _fill_light_group(group)
    return group


_GROUP_OUTPUTS = ("ambient", "diffuse", "ndotl", "sphere_uv") + tuple(
    f"point{i}_{what}" for i in range(POINT_LIGHT_COUNT) for what in ("ndotl", "weight")
)


def _fill_light_group(group: bpy.types.ShaderNodeTree) -> None:
    for name in _GROUP_OUTPUTS:
        kind = "NodeSocketVector" if name == "sphere_uv" else "NodeSocketFloat"
        group.interface.new_socket(name, in_out="OUTPUT", socket_type=kind)
    nodes, links = group.nodes, group.links
    out = nodes.new("NodeGroupOutput")
    for name in ("ambient", "diffuse"):
        value = value_node(nodes, name, 0.5)
        links.new(value.outputs[0], out.inputs[name])
    # toward the light, the camera's right and up; defaults: a camera at -Y looking along +Y
    light = vector_node(nodes, "light_dir", (0.0, -1.0, 0.0))
    right = vector_node(nodes, "camera_right", (1.0, 0.0, 0.0))
    up = vector_node(nodes, "camera_up", (0.0, 0.0, 1.0))
    geometry = nodes.new("ShaderNodeNewGeometry")
    normal = geometry.outputs["Normal"]  # the deformed (posed) mesh's normal, facing the viewer
    ndotl = math_node(nodes, "DOT_PRODUCT", normal, light.outputs[0], vector=True)
    links.new(ndotl, out.inputs["ndotl"])
    u = math_node(nodes, "DOT_PRODUCT", normal, right.outputs[0], vector=True)
    v = math_node(nodes, "DOT_PRODUCT", normal, up.outputs[0], vector=True)
    uv = nodes.new("ShaderNodeCombineXYZ")
    links.new(u, uv.inputs[0])
    links.new(v, uv.inputs[1])
    sphere = math_node(nodes, "MULTIPLY_ADD", uv.outputs[0], (0.5, 0.5, 0.0), vector=True)
    sphere.node.inputs[2].default_value = (0.5, 0.5, 0.0)
    links.new(sphere, out.inputs["sphere_uv"])
    # point lights: weight = share * (d0^2 / d^2)^(falloff / 2), d0 = reference distance
    half_falloff = math_node(nodes, "MULTIPLY", value_node(nodes, "point_falloff", 2.0).outputs[0], 0.5)
    for i in range(POINT_LIGHT_COUNT):
        position = vector_node(nodes, f"point{i}_position", (0.0, -1.0, 0.0))
        to_light = math_node(
            nodes, "SUBTRACT", position.outputs[0], geometry.outputs["Position"], vector=True
        )
        direction = math_node(nodes, "NORMALIZE", to_light, vector=True)
        links.new(
            math_node(nodes, "DOT_PRODUCT", normal, direction, vector=True), out.inputs[f"point{i}_ndotl"]
        )
        d2 = math_node(nodes, "DOT_PRODUCT", to_light, to_light, vector=True)
        d2 = math_node(nodes, "MAXIMUM", d2, 1e-8)
        ratio = math_node(nodes, "DIVIDE", value_node(nodes, f"point{i}_reference_d2", 1.0).outputs[0], d2)
        falloff = math_node(nodes, "POWER", ratio, half_falloff)
        weight = math_node(nodes, "MULTIPLY", falloff, value_node(nodes, f"point{i}_share", 0.0).outputs[0])
        links.new(weight, out.inputs[f"point{i}_weight"])


def set_light_values(
    ambient: float | None = None,
    diffuse: float | None = None,
    light_dir_camera: tuple[float, float, float] | None = None,
    camera_axes: np.ndarray | None = None,
) -> None:
    """Change the shared lighting values (cheap: no material is rebuilt).

    `light_dir_camera` points toward the light in camera axes (x right, y up, z toward the
    camera); `camera_axes` is the camera's 3x3 world rotation (columns right, up, backward).
    """
    nodes = light_group().nodes
    if ambient is not None:
        nodes["ambient"].outputs[0].default_value = float(ambient)
    if diffuse is not None:
        nodes["diffuse"].outputs[0].default_value = float(diffuse)
    axes = np.eye(3) if camera_axes is None else np.asarray(camera_axes, np.float64)[:3, :3]
    if camera_axes is not None:
        set_vector(nodes["camera_right"], axes[:, 0])
        set_vector(nodes["camera_up"], axes[:, 1])
    if light_dir_camera is not None:
        d = axes @ np.asarray(light_dir_camera, np.float64)
        set_vector(nodes["light_dir"], d / max(float(np.linalg.norm(d)), 1e-12))


def set_point_lights(
    positions: np.ndarray, shares: np.ndarray, reference: np.ndarray, falloff: float = 2.0
) -> None:
    """Place the 'point' preset's lights (world positions, cheap: no material is rebuilt).

    A light's weight is `share * (distance(reference, light) / distance(point, light))**falloff`,
    so a surface at `reference` (the framed head centre) gets exactly `share`; falloff 0 turns
    the distance term off, 2 is the inverse square law.
    """
    positions = np.asarray(positions, np.float64).reshape(-1, 3)
    shares = np.asarray(shares, np.float64).reshape(-1)
    if len(positions) != POINT_LIGHT_COUNT or len(shares) != POINT_LIGHT_COUNT:
        raise ValueError(f"the point preset has {POINT_LIGHT_COUNT} lights, got {len(positions)}")
    nodes = light_group().nodes
    nodes["point_falloff"].outputs[0].default_value = float(falloff)
    reference = np.asarray(reference, np.float64).reshape(3)
    for i, (position, share) in enumerate(zip(positions, shares)):
        set_vector(nodes[f"point{i}_position"], position)
        d2 = max(float(np.sum((position - reference) ** 2)), 1e-12)
        nodes[f"point{i}_reference_d2"].outputs[0].default_value = d2
        nodes[f"point{i}_share"].outputs[0].default_value = float(share)
