"""VRM / glTF images and materials -> `Model.textures`, `Model.materials` and `VrmInfo.materials`.

Embedded images (buffer views, data: URIs) stay in memory as `VrmInfo.embedded_images`, keyed by
their `Model.textures` entry ("embedded:<index>:<name>"); the Blender importer loads them from
there. External image URIs are kept as relative paths after the same folder checks as buffers.
MToon (VRM 1.0 `VRMC_materials_mtoon`, VRM 0.x `materialProperties`) shade colour and shading
factors are kept for the `toon` preset.
"""

from __future__ import annotations

import numpy as np

from thagen.rigs.formats.gltf.container import Gltf
from thagen.rigs.model import Material, MaterialFlag, Model
from thagen.rigs.vrm_info import VrmInfo, VrmMaterial

MAX_IMAGES = 10_000


def read_textures(g: Gltf, model: Model, info: VrmInfo) -> list[int]:
    """Model.textures gets one entry per glTF image; returns texture index -> Model texture slot."""
    images = g.array("images")
    if len(images) > MAX_IMAGES:
        raise g.error(f"{len(images)} images is over the {MAX_IMAGES} limit", "images")
    for i in range(len(images)):
        img = g.item("images", i, f"images[{i}]")
        raw_name = img.get("name")
        label = raw_name if isinstance(raw_name, str) and raw_name else f"image{i}"
        uri = img.get("uri")
        if isinstance(uri, str) and not uri.startswith("data:"):
            if g.base_dir is not None:
                g._local_file(uri, f"images[{i}].uri")  # refuse absolute / '..' paths now
            model.textures.append(uri)
            continue
        data, _mime = g.image_bytes(i, f"images[{i}]")
        stored = f"embedded:{i}:{label}"
        model.textures.append(stored)
        info.embedded_images[stored] = data
    slots = []
    for t in range(len(g.array("textures"))):
        tex = g.item("textures", t, f"textures[{t}]")
        source = tex.get("source")
        if source is None:
            slots.append(-1)
            continue
        g.item("images", source, f"textures[{t}].source")
        slots.append(int(source))
    return slots


def read_material(
    g: Gltf, index: object, where: str, textures: list[int], version: str
) -> tuple[Material, VrmMaterial]:
    if index is None:
        return Material(name="default", name_en="default"), VrmMaterial()
    mat = g.item("materials", index, where)
    here = f"materials[{index}]"
    pbr = g.obj(mat.get("pbrMetallicRoughness", {}), f"{here}.pbrMetallicRoughness")
    color = g.numbers(
        pbr.get("baseColorFactor", [1, 1, 1, 1]), 4, f"{here}.pbrMetallicRoughness.baseColorFactor"
    )
    texture = -1
    if "baseColorTexture" in pbr:
        ref = g.obj(pbr["baseColorTexture"], f"{here}.pbrMetallicRoughness.baseColorTexture")
        t = ref.get("index")
        if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < len(textures):
            raise g.error(
                f"texture index {t!r} out of range"[:120],
                f"{here}.pbrMetallicRoughness.baseColorTexture.index",
            )
        texture = textures[t]
    name = mat.get("name")
    name = name if isinstance(name, str) and name else f"material{index}"
    flags = MaterialFlag.DOUBLE_SIDED if mat.get("doubleSided") is True else 0
    extra = VrmMaterial()
    mode = mat.get("alphaMode", "OPAQUE")
    if mode not in ("OPAQUE", "MASK", "BLEND"):
        raise g.error(f"unknown alphaMode {mode!r}"[:120], f"{here}.alphaMode")
    extra.alpha_mode = mode
    cutoff = mat.get("alphaCutoff", 0.5)
    if isinstance(cutoff, bool) or not isinstance(cutoff, (int, float)):
        raise g.error("must be a number", f"{here}.alphaCutoff")
    extra.alpha_cutoff = float(cutoff)
    mtoon = g.obj(mat.get("extensions", {}), f"{here}.extensions").get("VRMC_materials_mtoon")
    if mtoon is not None:
        mtoon = g.obj(mtoon, f"{here}.extensions.VRMC_materials_mtoon")
        extra.shader = "MToon"
        if "shadeColorFactor" in mtoon:
            extra.shade_color = g.numbers(
                mtoon["shadeColorFactor"], 3, f"{here}.VRMC_materials_mtoon.shadeColorFactor"
            )
        extra.shading_toony = g.number(mtoon, "shadingToonyFactor", f"{here}.VRMC_materials_mtoon")
        extra.shading_shift = g.number(mtoon, "shadingShiftFactor", f"{here}.VRMC_materials_mtoon")
    model_mat = Material(
        name=name,
        name_en=name,
        diffuse=np.clip(color, 0.0, 1.0).astype(np.float32),  # the spec's range
        ambient=(np.clip(color[:3], 0.0, 1.0) * 0.5).astype(np.float32),
        flags=int(flags),
        edge_size=0.0,
        texture=texture,
    )
    return model_mat, extra


def read_vrm0_mtoon(g: Gltf, info: VrmInfo, material_index: list[int]) -> None:
    """VRM 0.x keeps MToon in extensions.VRM.materialProperties, parallel to glTF materials."""
    props = g.doc["extensions"]["VRM"].get("materialProperties", [])
    if not isinstance(props, list):
        raise g.error("must be an array", "VRM.materialProperties")
    for slot, gi in enumerate(material_index):
        if not 0 <= gi < len(props):
            continue
        where = f"VRM.materialProperties[{gi}]"
        prop = g.obj(props[gi], where)
        if "MToon" not in str(prop.get("shader", "")):
            continue
        extra = info.materials[slot]
        extra.shader = "MToon"
        vectors = g.obj(prop.get("vectorProperties", {}), f"{where}.vectorProperties")
        if "_ShadeColor" in vectors:
            extra.shade_color = g.numbers(vectors["_ShadeColor"], 4, f"{where}.vectorProperties._ShadeColor")[
                :3
            ]
        floats = g.obj(prop.get("floatProperties", {}), f"{where}.floatProperties")
        extra.shading_toony = g.number(floats, "_ShadeToony", f"{where}.floatProperties")
        extra.shading_shift = g.number(floats, "_ShadeShift", f"{where}.floatProperties")
