"""VRM expressions (1.0 `expressions`, 0.x `blendShapeMaster`) -> VERTEX morphs, and VRM meta.

Each expression becomes one VERTEX morph: the weighted sum of the morph targets it binds
(VRM 0.x stores weights 0-100, scaled to 0-1), so the importer, framing and role finding treat
it like any PMX vertex morph. VRM 0.x preset names are mapped to the 1.0
keys (joy -> happy, a -> aa, blink_l -> blinkLeft, ...) so role finding reads one vocabulary.
`isBinary`, material colour binds, texture-transform binds and 1.0 overrides are recorded in
`VrmInfo`, not applied to geometry.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from thagen.rigs.formats.gltf.container import Gltf
from thagen.rigs.model import Model, Morph, MorphKind
from thagen.rigs.vrm_info import VrmExpression, VrmInfo

VRM0_PRESETS = {
    "neutral": "neutral", "a": "aa", "i": "ih", "u": "ou", "e": "ee", "o": "oh", "blink": "blink",
    "joy": "happy", "angry": "angry", "sorrow": "sad", "fun": "relaxed", "lookup": "lookUp",
    "lookdown": "lookDown", "lookleft": "lookLeft", "lookright": "lookRight",
    "blink_l": "blinkLeft", "blink_r": "blinkRight",
}  # fmt: skip
VRM1_PRESETS = (
    "happy", "angry", "sad", "relaxed", "surprised", "aa", "ih", "ou", "ee", "oh", "blink",
    "blinkLeft", "blinkRight", "lookUp", "lookDown", "lookLeft", "lookRight", "neutral",
)  # fmt: skip
MAX_EXPRESSIONS = 10_000
MAX_WEIGHT = 10.0  # after scaling 0.x weights to 0-1; larger ones are hostile, not artistic
EYE_PRESETS = ("blink", "blinkLeft", "blinkRight", "lookUp", "lookDown", "lookLeft", "lookRight")
MOUTH_PRESETS = ("aa", "ih", "ou", "ee", "oh")


def _panel(preset: str) -> int:
    return 2 if preset in EYE_PRESETS else 3 if preset in MOUTH_PRESETS else 4


def read_expressions(
    g: Gltf, version: str, model: Model, info: VrmInfo, targets: dict[tuple[int, int], int]
) -> None:
    if version == "1.0":
        raw = _vrm1(g)
    elif version == "0.x":
        raw = _vrm0(g)
    else:
        return
    nodes = g.array("nodes")
    used = {m.name for m in model.morphs}
    if len(raw) > MAX_EXPRESSIONS:
        raise g.error(
            f"{len(raw)} expressions is over the {MAX_EXPRESSIONS} limit", raw[0][-1].rsplit(".", 2)[0]
        )
    for name, preset, binds, is_binary, n_mat, n_tex, overrides, where in raw:
        indices: list[int] = []
        weights: list[float] = []
        for j, (ref, index, weight) in enumerate(binds):
            here = f"{where}[{j}]"
            if version == "1.0":
                node = g.item("nodes", ref, f"{here}.node")
                mesh = node.get("mesh", -1)
            else:
                g.item("meshes", ref, f"{here}.mesh")
                mesh = ref
            if (mesh, index) not in targets:
                # stale binds are common in edited avatars: skip the bind, keep the expression
                what = f"node {ref} has no mesh" if mesh == -1 else f"mesh {mesh} has no morph target {index}"
                info.notes.append(f"{here}: {what}; bind skipped")
                continue
            if not abs(weight) <= MAX_WEIGHT:
                raise g.error(f"weight {weight:g} is out of range", f"{here}.weight")
            indices.append(targets[(mesh, index)])
            weights.append(weight)
        morph_index = -1
        if indices:
            indices, weights = _merge_binds(indices, weights)
            g.charge(16 * sum(len(model.morphs[i].indices) for i in indices), where)
            label = name if name not in used else f"{name}#expression"
            used.add(label)
            morph_index = len(model.morphs)
            vertices, offsets = _combine(model, indices, weights)
            model.morphs.append(
                Morph(
                    name=label,
                    name_en=preset or label,
                    panel=_panel(preset),
                    kind=int(MorphKind.VERTEX),
                    indices=vertices,
                    values=offsets,
                )
            )
            name = label
        info.expressions.append(VrmExpression(name, preset, morph_index, is_binary, n_mat, n_tex, overrides))
        if n_mat or n_tex:
            info.notes.append(
                f"expression {name!r}: {n_mat} material and {n_tex} texture-transform binds not applied"
            )
    del nodes


def _merge_binds(morphs: list[int], weights: list[float]) -> tuple[list[int], list[float]]:
    """One entry per bound morph target (weights of repeated binds add up), first-seen order."""
    merged: dict[int, float] = {}
    for i, w in zip(morphs, weights):
        merged[i] = merged.get(i, 0.0) + w
    return list(merged), list(merged.values())


def _combine(model: Model, morphs: list[int], weights: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """The weighted sum of morph-target VERTEX morphs as one (indices, offsets) pair."""
    if len(morphs) == 1 and weights[0] == 1.0:
        m = model.morphs[morphs[0]]
        return m.indices.copy(), m.values.copy()
    idx = np.concatenate([model.morphs[i].indices for i in morphs]).astype(np.int64)
    val = np.concatenate([model.morphs[i].values * np.float32(w) for i, w in zip(morphs, weights)])
    unique, inverse = np.unique(idx, return_inverse=True)
    total = np.zeros((len(unique), 3), np.float64)
    np.add.at(total, inverse.ravel(), val)
    return unique.astype(np.int32), total.astype(np.float32)


_Raw = tuple[str, str, list[tuple[Any, int, float]], bool, int, int, dict[str, str], str]


def _index(g: Gltf, obj: dict, key: str, where: str) -> int:
    return g.integer(obj, key, where)


def _vrm1(g: Gltf) -> list[_Raw]:
    vrm = g.obj(g.doc["extensions"]["VRMC_vrm"], "extensions.VRMC_vrm")
    expressions = g.obj(vrm.get("expressions", {}), "VRMC_vrm.expressions")
    out: list[_Raw] = []
    for group in ("preset", "custom"):
        table = g.obj(expressions.get(group, {}), f"VRMC_vrm.expressions.{group}")
        for key, spec in table.items():
            where = f"VRMC_vrm.expressions.{group}.{key}"
            spec = g.obj(spec, where)
            preset = key if group == "preset" and key in VRM1_PRESETS else ""
            binds_raw = spec.get("morphTargetBinds", [])
            if not isinstance(binds_raw, list):
                raise g.error("must be an array", f"{where}.morphTargetBinds")
            binds: list[tuple[Any, int, float]] = []
            for j, b in enumerate(binds_raw):
                here = f"{where}.morphTargetBinds[{j}]"
                b = g.obj(b, here)
                weight = g.number(b, "weight", here)
                binds.append((b.get("node"), _index(g, b, "index", here), 1.0 if weight is None else weight))
            overrides: dict[str, str] = {
                k: str(spec[k]) for k in ("overrideBlink", "overrideLookAt", "overrideMouth") if k in spec
            }
            out.append(
                (
                    str(key),
                    preset,
                    binds,
                    spec.get("isBinary") is True,
                    _length(g, spec, "materialColorBinds", where),
                    _length(g, spec, "textureTransformBinds", where),
                    overrides,
                    f"{where}.morphTargetBinds",
                )
            )
    return out


def _vrm0(g: Gltf) -> list[_Raw]:
    vrm = g.obj(g.doc["extensions"]["VRM"], "extensions.VRM")
    master = g.obj(vrm.get("blendShapeMaster", {}), "VRM.blendShapeMaster")
    groups = master.get("blendShapeGroups", [])
    if not isinstance(groups, list):
        raise g.error("must be an array", "VRM.blendShapeMaster.blendShapeGroups")
    out: list[_Raw] = []
    for i, spec in enumerate(groups):
        where = f"VRM.blendShapeMaster.blendShapeGroups[{i}]"
        spec = g.obj(spec, where)
        name = spec.get("name")
        preset_raw = spec.get("presetName", "unknown")
        preset = VRM0_PRESETS.get(str(preset_raw).lower(), "")
        if not isinstance(name, str) or not name:
            name = preset or f"expression{i}"
        binds_raw = spec.get("binds", [])
        if not isinstance(binds_raw, list):
            raise g.error("must be an array", f"{where}.binds")
        binds = []
        for j, b in enumerate(binds_raw):
            here = f"{where}.binds[{j}]"
            b = g.obj(b, here)
            weight = g.number(b, "weight", here)
            binds.append(
                (
                    _index(g, b, "mesh", here),
                    _index(g, b, "index", here),
                    (100.0 if weight is None else weight) / 100.0,
                )
            )
        out.append(
            (
                name,
                preset,
                binds,
                spec.get("isBinary") is True,
                _length(g, spec, "materialValues", where),
                0,
                {},
                f"{where}.binds",
            )
        )
    return out


def _length(g: Gltf, obj: dict, key: str, where: str) -> int:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise g.error("must be an array", f"{where}.{key}")
    return len(value)


def read_meta(g: Gltf, version: str, model: Model, info: VrmInfo) -> None:
    ext = g.doc.get("extensions", {})
    title, authors = "", []
    if version == "1.0":
        meta = g.obj(ext["VRMC_vrm"].get("meta", {}), "VRMC_vrm.meta")
        title = meta.get("name", "")
        authors = meta.get("authors", [])
        info.meta = meta  # kept whole: the license reader (rigs/licenses/) reads every key
    elif version == "0.x":
        meta = g.obj(ext["VRM"].get("meta", {}), "VRM.meta")
        title = meta.get("title", "")
        authors = [meta.get("author", "")]
        info.meta = meta
    info.title = title if isinstance(title, str) else ""
    info.authors = [a for a in authors if isinstance(a, str) and a] if isinstance(authors, list) else []
    scenes = g.array("scenes")
    fallback = ""
    if scenes and isinstance(scenes[0], dict) and isinstance(scenes[0].get("name"), str):
        fallback = scenes[0]["name"]
    model.name = info.title or fallback or (str(g.name).rsplit("/", 1)[-1])
    model.name_en = model.name
    label = f"VRM {version}" if version else "glTF (no VRM extension)"
    model.comment = f"{label}" + (f" by {', '.join(info.authors)}" if info.authors else "")
    model.comment_en = model.comment
