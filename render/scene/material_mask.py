"""Material-ID renders for QA: which pixels of the image each chosen material covers.

Texture QA (render/character/texture_qa.py) must know how much of the head a material whose
texture is missing covers in the image. Projecting triangles would miss what Cycles decides
(occlusion, alpha cut-outs, culled back faces), and Cycles' material-index pass needs the
compositor and a multilayer EXR. One extra ordinary render does it instead: each chosen
material becomes a flat emission of its own ID colour, every other material a holdout with its
own alpha (it still hides what is behind it, but leaves alpha 0), so the PNG's opaque pixels
are exactly where the chosen materials are seen, and their colour says which. The materials'
trees are rebuilt afterwards (`build_tree`), so the next render is as before.

Cycles ends low-weight transparency paths at random (`min_transparent_bounces`); a path ended
behind a holdout would leave faint specks of coverage, so the mask render turns that roulette
off for its one render (render/scene/eyebrow_layer.py does the same for its layer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import bpy

from thagen.errors import RenderError
from thagen.rigs.blender.imported import ImportedModel
from thagen.rigs.blender.shading import build_mask_tree, build_tree

Rgb = tuple[float, float, float]


def render_material_mask(
    character: ImportedModel | None, colors: Mapping[int, Rgb], render_png: Callable[[], bytes]
) -> bytes:
    """Render the current pose with material i shown as `colors[i]` (linear RGB) and every
    other material held out; `render_png` is the renderer's own render call."""
    if character is None:
        raise RenderError("render_material_mask needs a loaded character")
    specs = character.materials
    shading = character.shading
    cycles = bpy.context.scene.cycles
    roulette = cycles.min_transparent_bounces
    try:
        cycles.min_transparent_bounces = cycles.transparent_max_bounces
        for index, spec in enumerate(specs):
            build_mask_tree(spec, colors.get(index))
        return render_png()
    finally:
        cycles.min_transparent_bounces = roulette
        for spec in specs:
            build_tree(spec, shading)
