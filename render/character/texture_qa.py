"""Texture QA: which texture files a character is missing, and whether that hurts its head.

Downloaded models often lack some texture files. The renderer draws such a material in its
own diffuse colour, as MMD does (rigs/blender/textures.py), so nothing screams magenta any more;
the pixel checks (eyes, mouth, framing) cannot tell a bald, flat-white face from a real one.
This module measures it instead, in two steps that match how QA is stored:

- `texture_record` (at render time, with the renderer): the import's missing files per
  material, whether each material belongs to the head, and the share of the head box each
  covers in one extra material-ID render of the reset pose (render/scene/material_mask.py:
  Cycles decides occlusion and cut-outs, so the share is what the image shows). The record is
  plain JSON and travels in qa.json's `regions`, so `thagen qa` re-checks without Blender.
- `check_textures` (pure): the record -> flags and metrics.

Flags: `texture_missing_head` (hard) when a material whose diffuse texture is missing is seen
in the reset image and is a face, eye, mouth or hair material, or covers more than `HEAD_SHARE`
of the head box (one material or all of them together); otherwise `texture_missing` (soft:
clothes, body, a sphere or toon map, or an expression material that never shows, e.g. diffuse
alpha 0 or hidden inside the head like Gene's star eyes). The head box spans the
framing's head top to chin rows and, centred on the head, as many columns as rows (an anime
head is about as wide as it is tall, hair included). A material is "head" when any of:
its name or texture file name says so (Japanese words anywhere, English / romaji at a word
start; `肌` / `skin` only when no body part is named beside it), the eye-close or mouth-open
morphs move its vertices, or most of its vertices are weighted mostly to the head bone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from thagen.errors import RenderError
from thagen.render.character.qa_checks import ALPHA_OPAQUE, QAResult, clip_box, decode_png
from thagen.render.poses.sampling import REST_POSES

if TYPE_CHECKING:
    from thagen.render.framing.estimate import Framing
    from thagen.render.scene.renderer import Renderer
    from thagen.rigs.blender.report import TextureMiss
    from thagen.rigs.model import Model
    from thagen.rigs.normalize import RigReport

FLAG_SOFT = "texture_missing"  # hard / soft: the QA flag table, render/character/flags.py
FLAG_HARD = "texture_missing_head"
HEAD_SHARE = 0.05  # of the head box: more than this is "on the head" whatever the material is
MORPH_ROLES = ("eye_close_left", "eye_close_right", "eye_close_both", "mouth_open")

HEAD_WORDS_JA = (
    "顔", "白目", "目", "瞳", "眼", "口", "唇", "歯", "舌", "前髪", "後髪", "横髪", "髪",
    "眉", "まゆ", "まつげ", "まつ毛", "睫", "頬", "ほほ", "表情", "肌",
)  # fmt: skip
NOT_HEAD_JA = ("縫い目", "縫目", "継ぎ目", "結び目", "網目", "折り目", "袖口", "襟口", "裾口")
HEAD_PREFIXES = (
    "face", "eye", "iris", "pupil", "sclera", "lash", "mouth", "teeth", "tooth", "tongue",
    "hair", "cheek", "blush", "kao", "hitomi", "matsuge", "mayu",
)  # fmt: skip
HEAD_TOKENS = frozenset(("head", "brow", "brows", "lip", "lips", "bang", "bangs", "fringe", "ahoge", "kami"))
SKIN_WORDS = ("肌", "skin", "hada")  # the head only when no body part is named beside them
BODY_WORDS_JA = ("手", "腕", "体", "胴", "足", "脚", "胸", "腹", "背", "首", "服", "袖")
BODY_TOKENS = frozenset(
    ("body", "arm", "arms", "hand", "hands", "leg", "legs", "foot", "feet", "neck", "chest", "torso")
)

# ID colours of the material mask: the corners of the RGB cube, 8 materials per render. An edge
# pixel blends the colours of the materials it straddles, and a blend of two corners never
# comes near a third (each channel would have to lean to both ends at once), so a pixel within
# MATCH_TOLERANCE of a corner is mostly that material's; more levels per channel would put the
# blend of two IDs onto a third (64 and 191 average to 128) and count edges to the wrong one.
PALETTE = np.array([(r, g, b) for r in (255, 0) for g in (255, 0) for b in (255, 0)], np.int32)
MATCH_TOLERANCE = 40


@runtime_checkable
class TextureRenderer(Protocol):
    """What the texture QA needs of a renderer (render/scene/blender_scene.py's BlenderRenderer)."""

    def project(self, points_mmd: np.ndarray) -> np.ndarray: ...

    def set_pose(self, pose: Mapping[str, float]) -> None: ...

    def texture_misses(self) -> list[TextureMiss]: ...

    def render_material_mask(self, colors: Mapping[int, tuple[float, float, float]]) -> bytes: ...


# ------------------------------------------------------------------------------ which materials


def _tokens(text: str) -> list[str]:
    """Lower-case ASCII words of a name: split at non-letters and camelCase humps."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
    return re.findall(r"[a-z]+", spaced.lower())


def name_word(texts: Sequence[str]) -> str | None:
    """The head word one of `texts` (material names, texture file stem) contains, or None."""
    for text in texts:
        ja = text
        for word in NOT_HEAD_JA:
            ja = ja.replace(word, " ")
        tokens = _tokens(text)
        body = any(w in ja for w in BODY_WORDS_JA) or any(t in BODY_TOKENS for t in tokens)
        for word in HEAD_WORDS_JA:
            if word in ja and not (word in SKIN_WORDS and body):
                return word
        for token in tokens:
            if token in SKIN_WORDS and not body:
                return token
            if token in HEAD_TOKENS or token.startswith(HEAD_PREFIXES):
                return token
    return None


def _material_vertices(model: Model, index: int) -> np.ndarray:
    material = model.materials[index]
    faces = np.asarray(model.faces)[material.face_start : material.face_start + material.face_count]
    return np.unique(faces.reshape(-1))


def _morph_moved(model: Model, rig: RigReport) -> np.ndarray:
    """Vertex mask: moved clearly (> 10% of the morph's largest offset) by an eye or mouth morph."""
    from thagen.rigs.flatten import flatten_group_morph

    moved = np.zeros(model.vertex_count, bool)
    for role in MORPH_ROLES:
        if role in rig.synthetic_morphs:
            morph = rig.synthetic_morphs[role]
            idx, off = np.asarray(morph.indices, np.int64), np.asarray(morph.values, np.float64)
        else:
            match = rig.matches.get(role)
            if match is None or match.kind != "morph" or not match.found or match.index is None:
                continue
            idx, off = flatten_group_morph(model, match.index)
        if len(idx) == 0:
            continue
        mag = np.linalg.norm(np.asarray(off, np.float64).reshape(len(idx), -1)[:, :3], axis=1)
        if mag.max() > 0:
            moved[np.asarray(idx)[mag > 0.1 * mag.max()]] = True
    return moved


def _head_weighted(model: Model, rig: RigReport) -> np.ndarray:
    """Vertex mask: at least half of the vertex's weight is on the head bone."""
    match = rig.matches.get("head")
    head = None if match is None or match.kind != "bone" or not match.found else match.index
    idx = np.asarray(model.bone_indices)
    if head is None or idx.size == 0:
        return np.zeros(model.vertex_count, bool)
    weight = np.where(idx == head, np.asarray(model.bone_weights, np.float64), 0.0).sum(axis=1)
    return weight >= 0.5


def head_reasons(model: Model, miss: TextureMiss, moved: np.ndarray, weighted: np.ndarray) -> list[str]:
    """Why material `miss.material` is a head material (name, morphs, head bone); [] if it is not."""
    material = model.materials[miss.material]
    reasons = []
    word = name_word([material.name, material.name_en, PurePosixPath(miss.file.replace("\\", "/")).stem])
    if word is not None:
        reasons.append(f"name {word}")
    verts = _material_vertices(model, miss.material)
    verts = verts[(verts >= 0) & (verts < model.vertex_count)]
    if len(verts):
        n_moved = int(moved[verts].sum())
        if n_moved >= 3 and n_moved >= 0.01 * len(verts):
            reasons.append("eye/mouth morph")
        if weighted[verts].mean() >= 0.5:
            reasons.append("head bone")
    return reasons


def _visible(model: Model, index: int) -> bool:
    """False for a material that can never show (no faces, or diffuse alpha 0: MMD's hidden
    expression materials, which thagen never turns on)."""
    material = model.materials[index]
    return material.face_count > 0 and float(np.asarray(material.diffuse).reshape(-1)[3]) > 0.0


# ------------------------------------------------------------------------------ head-box coverage


def head_box(renderer: TextureRenderer, framing: Framing, size: int) -> tuple[int, int, int, int] | None:
    """Pixel box from the head-top row to the chin row, as wide as tall, centred on the head."""
    mid = 0.5 * (framing.head_top + framing.chin)
    points = np.stack([framing.head_top, framing.chin, [framing.center_x, mid[1], mid[2]]])
    px = np.asarray(renderer.project(points), np.float64)
    top, chin, cx = float(px[0, 1]), float(px[1, 1]), float(px[2, 0])
    half = 0.5 * (chin - top)
    return clip_box((cx - half, top, cx + half, chin), (size, size))


def _linear(levels: np.ndarray) -> tuple[float, float, float]:
    """8-bit sRGB display values -> the linear emission colour that displays as them."""
    c = levels / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return (float(lin[0]), float(lin[1]), float(lin[2]))


def coverage(
    renderer: TextureRenderer, materials: Sequence[int], box: tuple[int, int, int, int]
) -> tuple[dict[int, float], dict[int, int], float]:
    """Per material: its share of `box` and its pixels in the whole image; and the share of
    `box` all of them cover together (edge pixels blending two materials count only there)."""
    x0, y0, x1, y1 = box
    area = float((x1 - x0) * (y1 - y0))
    shares: dict[int, float] = {}
    pixels: dict[int, int] = {}
    union = None
    for start in range(0, len(materials), len(PALETTE)):
        chunk = list(materials[start : start + len(PALETTE)])
        colors = {m: _linear(PALETTE[k]) for k, m in enumerate(chunk)}
        image = decode_png(renderer.render_material_mask(colors)).astype(np.int32)
        opaque = image[..., 3] >= ALPHA_OPAQUE
        dist = np.abs(image[..., None, :3] - PALETTE[None, None, : len(chunk)]).max(axis=-1)
        nearest = np.where(opaque & (dist.min(axis=-1) <= MATCH_TOLERANCE), dist.argmin(axis=-1), -1)
        in_box = opaque[y0:y1, x0:x1]
        union = in_box if union is None else union | in_box
        for k, m in enumerate(chunk):
            mine = nearest == k
            pixels[m] = int(mine.sum())
            shares[m] = float(mine[y0:y1, x0:x1].sum()) / area
    return shares, pixels, (float(union.sum()) / area if union is not None else 0.0)


# ------------------------------------------------------------------------------ record and check


def texture_record(
    model: Model, rig: RigReport, renderer: Renderer, framing: Framing, size: int
) -> dict[str, Any] | None:
    """What texture QA needs, as JSON (qa.json `regions["textures"]`); None without misses (or
    with a renderer that cannot say, e.g. a test's stand-in).

    Only when a visible material lacks its diffuse texture, it renders one material-ID image
    per 8 such materials, in THA1's reset pose (the renderer is left in that pose; every image
    sets its own): complete models cost nothing.
    """
    if not isinstance(renderer, TextureRenderer):
        return None
    misses = [m for m in renderer.texture_misses() if 0 <= m.material < len(model.materials)]
    if not misses:
        return None
    moved, weighted = _morph_moved(model, rig), _head_weighted(model, rig)
    rows = []
    for miss in misses:
        visible = _visible(model, miss.material)
        reasons = head_reasons(model, miss, moved, weighted) if visible else []
        rows.append({**miss.to_dict(), "visible": visible, "head": reasons, "head_share": None, "seen": None})
    record: dict[str, Any] = {
        "files": list(dict.fromkeys(m.file for m in misses)),
        "head_box": None,
        "head_share": None,
        "materials": rows,
    }
    diffuse = sorted({r["material"] for r in rows if r["use"] == "diffuse" and r["visible"]})
    box = head_box(renderer, framing, size)
    if diffuse and box is not None:
        record["head_box"] = list(box)
        try:
            renderer.set_pose(REST_POSES["tha1"])
            shares, pixels, union = coverage(renderer, diffuse, box)
        except RenderError as exc:  # QA must not lose the character: say so, judge without shares
            record["coverage_error"] = str(exc)
        else:
            record["head_share"] = round(union, 4)
            for row in rows:
                if row["material"] in shares and row["use"] == "diffuse":
                    row["head_share"] = round(shares[row["material"]], 4)
                    row["seen"] = pixels[row["material"]] > 0
    return record


def check_textures(record: Mapping[str, Any] | None, head_share: float = HEAD_SHARE) -> QAResult:
    """`texture_missing_head` (hard) or `texture_missing` (soft) from a `texture_record`."""
    res = QAResult()
    if not record or not record.get("files"):
        return res
    rows = list(record.get("materials") or [])
    union = record.get("head_share")
    details, hard = [], union is not None and union > head_share
    for row in rows:
        share = row.get("head_share")
        shown = bool(row.get("visible")) and row.get("seen") is not False
        on_head = (
            row.get("use") == "diffuse"
            and shown
            and (bool(row.get("head")) or (share is not None and share > head_share))
        )
        hard = hard or on_head
        why = [*row.get("head", [])]
        if share is not None:
            why.append(f"{100 * share:.1f}% of head box")
        if not row.get("visible"):
            why.append("never visible")
        elif row.get("seen") is False:
            why.append("not in the reset image")
        details.append(
            f"{row.get('name')}: {row.get('file')} ({row.get('use')}{'; ' if why else ''}{', '.join(why)})"
        )
    res.metrics["texture_missing_files"] = list(record["files"])
    res.metrics["texture_missing_head_share"] = union
    res.metrics["texture_missing_materials"] = details
    res.flags.append(FLAG_HARD if hard else FLAG_SOFT)
    return res
