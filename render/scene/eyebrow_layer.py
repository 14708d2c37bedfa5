"""THA3's eyebrow decomposer images: the eyebrows alone, and everything but the eyebrows.

THA3's first network splits the rest image's face into an eyebrow layer and the face without
eyebrows, so its targets are two renders of the rest pose with the model's eyebrow triangles
(rigs/normalize/eyebrows.py) treated differently:

- ``eyebrow_layer``: the eyebrow triangles shaded as usual, every other triangle a holdout with
  its own alpha (it still hides the eyebrows behind it, as the bangs do, but leaves alpha 0).
  The layer is exactly the part of the rest image the eyebrows make.
- ``no_eyebrow``: the eyebrow triangles fully transparent, so the skin behind them shows.

Cycles ends transparency paths of low weight at random (Russian roulette, from bounce
`min_transparent_bounces`, 0 here); a path ended behind a holdout keeps the rest of its
coverage, which left faint dark specks where stacked overlays (Gene's cheek marks) thin the
weight. The layer render therefore turns the roulette off; the face keeps the rest image's
setting, so outside the eyebrows it is the rest image bit for bit.

So the layer composited over the face (alpha-over in linear light) gives the rest image again,
up to 8-bit rounding at the eyebrows' anti-aliased edges.

The triangles are marked with a per-face float attribute read by an Attribute node spliced in
front of each material's output, one attribute per mesh object (the static split,
rigs/blender/static_split.py, puts the character in two). Eyebrows are often a few islands
inside the face material, so whole materials cannot be swapped. Attribute and nodes are
removed after the render and the trees rebuilt (`build_tree`), as in material_mask.py, so the
next render is exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import bpy
import numpy as np

from thagen.errors import RenderError
from thagen.rigs.blender.imported import ImportedModel
from thagen.rigs.blender.shading import build_tree
from thagen.rigs.model import Model

if TYPE_CHECKING:
    from thagen.rigs.normalize import RigReport

LAYERS = ("eyebrow_layer", "no_eyebrow")
ATTRIBUTE = "thagen_eyebrow"


@dataclass
class MeshPart:
    """One mesh object of the character and the model triangle each of its polygons came from."""

    obj: bpy.types.Object
    sources: np.ndarray  # (polygons,) model face index


def model_polygons(model: Model) -> np.ndarray:
    """Model face index of each polygon the importer makes: every triangle but the degenerate
    ones, in order (rigs/blender/mesh.py `build_mesh`)."""
    faces = np.asarray(model.faces, np.int64).reshape(-1, 3)
    degenerate = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 0] == faces[:, 2])
    return np.flatnonzero(~degenerate)


def mesh_parts(model: Model, character: ImportedModel) -> list[MeshPart]:
    """The character's mesh objects with their polygons' model faces; the static split keeps the
    polygon order within each part (`static_faces`, `dynamic_faces`: their masks over the
    imported polygons; triangles out of view are in neither)."""
    sources = model_polygons(model)
    static, static_faces, dynamic_faces = character.static, character.static_faces, character.dynamic_faces
    if static is None or static_faces is None or dynamic_faces is None:
        return [MeshPart(character.mesh, sources)]
    return [MeshPart(character.mesh, sources[dynamic_faces]), MeshPart(static, sources[static_faces])]


def render_eyebrow_layer(
    character: ImportedModel | None,
    parts: Sequence[MeshPart],
    rig: RigReport | None,
    which: str,
    render_png: Callable[[], bytes],
) -> bytes:
    """Render the current pose as `which` (LAYERS) with the rig's eyebrow triangles (none
    without a THA2 / THA3 rig) as the eyebrows; `render_png` is the renderer's render call."""
    if character is None:
        raise RenderError("render_eyebrow_layer needs a loaded character")
    if which not in LAYERS:
        raise RenderError(f"unknown eyebrow layer {which!r}; expected one of {', '.join(LAYERS)}")
    extended = rig.extended if rig is not None else None
    eyebrow_faces = extended.eyebrows.faces if extended is not None else np.zeros(0, np.int64)
    if which == "no_eyebrow" and not eyebrow_faces.size:
        return render_png()  # nothing to hide: the rest image itself
    marked: list[bpy.types.Mesh] = []
    cycles = bpy.context.scene.cycles
    roulette = cycles.min_transparent_bounces
    try:
        if which == "eyebrow_layer":
            cycles.min_transparent_bounces = cycles.transparent_max_bounces
        for part in parts:
            mesh = part.obj.data
            if len(part.sources) != len(mesh.polygons):
                raise RenderError(
                    f"{part.obj.name}: {len(mesh.polygons)} polygons, but {len(part.sources)} model triangles"
                )
            flag = np.isin(part.sources, eyebrow_faces)
            if flag.any():
                mesh.attributes.new(ATTRIBUTE, "FLOAT", "FACE").data.foreach_set(
                    "value", flag.astype(np.float32)
                )
                marked.append(mesh)
                mesh.update()
        for spec in character.materials:
            _splice(spec.material.node_tree, which)
        return render_png()
    finally:
        cycles.min_transparent_bounces = roulette
        for spec in character.materials:
            build_tree(spec, character.shading)
        for mesh in marked:
            mesh.attributes.remove(mesh.attributes[ATTRIBUTE])
            mesh.update()


def _splice(tree: bpy.types.NodeTree, which: str) -> None:
    """Put a mix by the eyebrow attribute in front of the material output: for `no_eyebrow`
    eyebrow faces become transparent; for `eyebrow_layer` every other face a holdout."""
    nodes, links = tree.nodes, tree.links
    out = next((n for n in nodes if n.bl_idname == "ShaderNodeOutputMaterial"), None)
    link = next((k for k in links if out is not None and k.to_socket == out.inputs["Surface"]), None)
    if out is None or link is None:
        return
    surface = link.from_socket
    attribute = nodes.new("ShaderNodeAttribute")
    attribute.attribute_type = "GEOMETRY"
    attribute.attribute_name = ATTRIBUTE
    mix = nodes.new("ShaderNodeMixShader")
    links.new(attribute.outputs["Fac"], mix.inputs["Fac"])
    if which == "no_eyebrow":
        links.new(surface, mix.inputs[1])
        links.new(nodes.new("ShaderNodeBsdfTransparent").outputs[0], mix.inputs[2])
    else:
        links.new(_holdout_like(nodes, links, surface), mix.inputs[1])
        links.new(surface, mix.inputs[2])
    links.new(mix.outputs[0], out.inputs["Surface"])


def _holdout_like(
    nodes: bpy.types.Nodes, links: bpy.types.NodeLinks, surface: bpy.types.NodeSocket
) -> bpy.types.NodeSocket:
    """A holdout cut by the same alpha as `surface`: shading.py ends a tree with alpha as
    Mix(fac=alpha, Transparent, shader), so the same mix with a holdout in place of the shader
    (an opaque material ends in its shader alone: a plain holdout)."""
    holdout = nodes.new("ShaderNodeHoldout").outputs[0]
    node = surface.node
    if node.bl_idname != "ShaderNodeMixShader" or not node.inputs[1].is_linked:
        return holdout
    transparent = node.inputs[1].links[0].from_socket
    if transparent.node.bl_idname != "ShaderNodeBsdfTransparent":
        return holdout
    mix = nodes.new("ShaderNodeMixShader")
    fac = node.inputs["Fac"]
    if fac.is_linked:
        links.new(fac.links[0].from_socket, mix.inputs["Fac"])
    else:
        mix.inputs["Fac"].default_value = fac.default_value
    links.new(transparent, mix.inputs[1])
    links.new(holdout, mix.inputs[2])
    return mix.outputs[0]
