"""One material's Cycles node tree for each of the three shading presets.

Presets (the per-material tail, rebuilt by `build_tree` without reloading images):
- 'phong' (THA1): base * (ambient + diffuse * max(N.L, 0)), L along the view direction.
- 'toon' (MMD look): base * toon-ramp(N.L) * or + sphere map, times (ambient + diffuse).
- 'point' (DMV): base (* or + sphere map) * (ambient + diffuse * sum_i w_i * toon-ramp(N.L_i)),
  L_i from the shading point toward point light i, w_i = share_i * (d0_i / d_i)^falloff (d0_i:
  the light's distance to the framed head centre). Materials without a toon ramp use
  max(N.L_i, 0) instead, as 'phong' does.
base = texture RGB * diffuse RGB; alpha = texture alpha * diffuse alpha (and 0 on the back of
single-sided materials, since Cycles ignores the backface-culling flag). VRM / glTF materials
follow their alphaMode (OPAQUE ignores alpha, MASK cuts at alphaCutoff). Every preset ends in an
emission shader (no real lights); the lighting values come from the shared group (`lighting`).

Kept apart from `materials` (which makes the materials and picks their images) so that the node
graphs, the part that decides every pixel, read on their own, one builder per preset.

`build_mask_tree` is the QA variant (render/scene/material_mask.py): a flat ID colour or a
holdout, with the material's own alpha, so one render shows which pixels a material covers.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy

from thagen.rigs.blender.lighting import POINT_LIGHT_COUNT, light_group
from thagen.rigs.blender.nodes import combine_gray, math_node

SHADINGS = ("phong", "toon", "point")


@dataclass
class MaterialSpec:
    """What a material's node tree is built from, kept so the shading can be swapped."""

    material: bpy.types.Material
    diffuse: tuple[float, float, float, float]
    double_sided: bool
    texture: bpy.types.Image | None
    sphere: bpy.types.Image | None
    sphere_mode: int
    toon: bpy.types.Image | None
    alpha_mode: str = "BLEND"  # MMD: texture alpha always blends; VRM / glTF: OPAQUE, MASK or BLEND
    alpha_cutoff: float = 0.5
    # Workbench's colour (rigs/blender/workbench.py): the image its texture colour mode shows,
    # held by an unlinked node made active, so node-tree engines never see it.
    display_image: bpy.types.Image | None = None


def build_tree(spec: MaterialSpec, shading: str) -> None:
    """(Re)build one material's node tree for a shading preset."""
    tree = spec.material.node_tree
    nodes, links = tree.nodes, tree.links
    nodes.clear()
    out = nodes.new("ShaderNodeOutputMaterial")
    light = nodes.new("ShaderNodeGroup")
    light.node_tree = light_group()
    base, alpha, a = _base_and_alpha(nodes, spec)
    if shading == "phong":
        color = _phong_color(nodes, links, light, base)
    elif shading == "toon":
        color = _toon_color(nodes, links, light, spec, base)
    else:
        color = _point_color(nodes, links, light, spec, base)
    _surface(nodes, links, out, color, alpha, a)
    if spec.display_image is not None:
        display = nodes.new("ShaderNodeTexImage")
        display.image = spec.display_image
        nodes.active = display  # Workbench's texture colour is the active image node's


def build_mask_tree(spec: MaterialSpec, color: tuple[float, float, float] | None) -> None:
    """A QA tree: emission of `color` (linear RGB) or, for None, a holdout, cut by the same alpha
    as the render's tree. A holdout still hides what lies behind it but leaves alpha 0, so the
    render's alpha marks exactly the pixels where the coloured materials are seen in the image.
    `build_tree` restores the material afterwards."""
    tree = spec.material.node_tree
    nodes, links = tree.nodes, tree.links
    nodes.clear()
    out = nodes.new("ShaderNodeOutputMaterial")
    _base, alpha, a = _base_and_alpha(nodes, spec)
    if color is None:
        shader = nodes.new("ShaderNodeHoldout")
    else:
        shader = nodes.new("ShaderNodeEmission")
        shader.inputs["Color"].default_value = (*color, 1.0)
    _mix_alpha(nodes, links, out, shader.outputs[0], alpha, a)


def _base_and_alpha(
    nodes: bpy.types.Nodes, spec: MaterialSpec
) -> tuple[bpy.types.NodeSocket, bpy.types.NodeSocket | None, float]:
    """(base colour socket, alpha socket or None, constant alpha used when that is None)."""
    r, g, b, a = spec.diffuse
    base = None
    alpha = None
    if spec.texture is not None:
        tex = nodes.new("ShaderNodeTexImage")
        tex.image = spec.texture
        base = math_node(nodes, "MULTIPLY", tex.outputs["Color"], (r, g, b), vector=True)
        alpha = math_node(nodes, "MULTIPLY", tex.outputs["Alpha"], a)
    else:
        rgb = nodes.new("ShaderNodeRGB")
        rgb.outputs[0].default_value = (r, g, b, 1.0)
        base = rgb.outputs[0]
    if spec.alpha_mode == "OPAQUE":  # glTF: alpha is ignored
        alpha, a = None, 1.0
    elif spec.alpha_mode == "MASK":  # glTF: opaque where alpha >= cutoff, else fully transparent
        if alpha is not None:
            alpha = math_node(nodes, "GREATER_THAN", alpha, spec.alpha_cutoff - 1e-6)
        else:
            a = 1.0 if a >= spec.alpha_cutoff else 0.0
    if not spec.double_sided:
        geometry = nodes.new("ShaderNodeNewGeometry")
        front = math_node(nodes, "SUBTRACT", 1.0, geometry.outputs["Backfacing"])
        alpha = math_node(nodes, "MULTIPLY", front, alpha if alpha is not None else a)
    return base, alpha, a


def _phong_color(
    nodes: bpy.types.Nodes,
    links: bpy.types.NodeLinks,
    light: bpy.types.ShaderNodeGroup,
    base: bpy.types.NodeSocket,
) -> bpy.types.NodeSocket:
    """'phong': base * (ambient + diffuse * max(N.L, 0))."""
    lit = math_node(nodes, "MAXIMUM", light.outputs["ndotl"], 0.0)
    level = math_node(nodes, "MULTIPLY_ADD", lit, light.outputs["diffuse"])
    links.new(light.outputs["ambient"], level.node.inputs[2])
    color = math_node(nodes, "SCALE", base, None, vector=True)
    links.new(level, color.node.inputs["Scale"])
    return color


def _toon_color(
    nodes: bpy.types.Nodes,
    links: bpy.types.NodeLinks,
    light: bpy.types.ShaderNodeGroup,
    spec: MaterialSpec,
    base: bpy.types.NodeSocket,
) -> bpy.types.NodeSocket:
    """'toon': base * toon-ramp(N.L) * or + sphere map, times (ambient + diffuse)."""
    color = base
    if spec.toon is not None:
        color = math_node(
            nodes, "MULTIPLY", color, _toon_lookup(nodes, spec.toon, light.outputs["ndotl"]), vector=True
        )
    color = _sphere_map(nodes, links, light, spec, color)
    strength = math_node(nodes, "ADD", light.outputs["ambient"], light.outputs["diffuse"])
    color = math_node(nodes, "SCALE", color, None, vector=True)
    links.new(strength, color.node.inputs["Scale"])
    return color


def _point_color(
    nodes: bpy.types.Nodes,
    links: bpy.types.NodeLinks,
    light: bpy.types.ShaderNodeGroup,
    spec: MaterialSpec,
    base: bpy.types.NodeSocket,
) -> bpy.types.NodeSocket:
    """'point': base (* or + sphere map) * (ambient + diffuse * the lights' weighted ramps)."""
    color = _sphere_map(nodes, links, light, spec, base)
    total = None
    for i in range(POINT_LIGHT_COUNT):
        ndotl = light.outputs[f"point{i}_ndotl"]
        if spec.toon is not None:
            term = _toon_lookup(nodes, spec.toon, ndotl)
        else:
            term = combine_gray(nodes, math_node(nodes, "MAXIMUM", ndotl, 0.0))
        term = math_node(nodes, "SCALE", term, None, vector=True)
        links.new(light.outputs[f"point{i}_weight"], term.node.inputs["Scale"])
        total = term if total is None else math_node(nodes, "ADD", total, term, vector=True)
    level = math_node(nodes, "SCALE", total, None, vector=True)
    links.new(light.outputs["diffuse"], level.node.inputs["Scale"])
    level = math_node(nodes, "ADD", level, None, vector=True)
    links.new(combine_gray(nodes, light.outputs["ambient"]), level.node.inputs[1])
    return math_node(nodes, "MULTIPLY", color, level, vector=True)


def _sphere_map(
    nodes: bpy.types.Nodes,
    links: bpy.types.NodeLinks,
    light: bpy.types.ShaderNodeGroup,
    spec: MaterialSpec,
    color: bpy.types.NodeSocket,
) -> bpy.types.NodeSocket:
    """The sphere map multiplied (mode 1) or added (mode 2) onto `color`, if the material has one."""
    if spec.sphere is None:
        return color
    sphere = nodes.new("ShaderNodeTexImage")
    sphere.image = spec.sphere
    sphere.extension = "EXTEND"
    links.new(light.outputs["sphere_uv"], sphere.inputs["Vector"])
    op = "MULTIPLY" if spec.sphere_mode == 1 else "ADD"
    return math_node(nodes, op, color, sphere.outputs["Color"], vector=True)


def _toon_lookup(
    nodes: bpy.types.Nodes, image: bpy.types.Image, ndotl: bpy.types.NodeSocket
) -> bpy.types.NodeSocket:
    """The toon ramp's colour at N.L (vertical ramp: N.L = -1 at the bottom, 1 at the top)."""
    v = math_node(nodes, "MULTIPLY_ADD", ndotl, 0.5)
    v.node.inputs[2].default_value = 0.5
    uv = nodes.new("ShaderNodeCombineXYZ")
    uv.inputs[0].default_value = 0.5
    nodes.id_data.links.new(v, uv.inputs[1])
    toon = nodes.new("ShaderNodeTexImage")
    toon.image = image
    toon.extension = "EXTEND"
    nodes.id_data.links.new(uv.outputs[0], toon.inputs["Vector"])
    return toon.outputs["Color"]


def _surface(
    nodes: bpy.types.Nodes,
    links: bpy.types.NodeLinks,
    out: bpy.types.ShaderNodeOutputMaterial,
    color: bpy.types.NodeSocket,
    alpha: bpy.types.NodeSocket | None,
    a: float,
) -> None:
    """Emission of `color`, mixed with transparency by the alpha, into the material output."""
    emission = nodes.new("ShaderNodeEmission")
    links.new(color, emission.inputs["Color"])
    _mix_alpha(nodes, links, out, emission.outputs[0], alpha, a)


def _mix_alpha(
    nodes: bpy.types.Nodes,
    links: bpy.types.NodeLinks,
    out: bpy.types.ShaderNodeOutputMaterial,
    surface: bpy.types.NodeSocket,
    alpha: bpy.types.NodeSocket | None,
    a: float,
) -> None:
    """`surface` mixed with a transparent shader by the alpha (when not opaque), into `out`."""
    if alpha is not None or a < 1.0:
        transparent = nodes.new("ShaderNodeBsdfTransparent")
        mix = nodes.new("ShaderNodeMixShader")
        if alpha is not None:
            links.new(alpha, mix.inputs["Fac"])
        else:
            mix.inputs["Fac"].default_value = a
        links.new(transparent.outputs[0], mix.inputs[1])
        links.new(surface, mix.inputs[2])
        surface = mix.outputs[0]
    links.new(surface, out.inputs["Surface"])
