"""Compact per-model signatures that say which character a model is.

Grouping thousands of models cannot compare pixels or vertices pair by pair, so every model is
reduced once (and cached, render/identity/cache.py) to a few hundred bytes:

- **texture hashes** of the face and eye textures: a 64-bit DCT perceptual hash of the image's
  luminance plus a 4x4 grid of mean colours. Both survive resizing and JPEG re-encoding (a few
  bits / a few levels change) but not a different drawing. The face and eye materials are the
  ones whose triangles the eye-close and mouth morphs move, so hair and clothes never count.
  Every texture a material uses is hashed too (`all_textures`), for the duplicate test.
- **name key**: the model's name with outfit words, versions and punctuation removed
  (render/identity/names.py).
- **face shape**: where the eyes and the mouth are (centroids and spreads of the vertices their
  morphs move) in the head's own frame (origin at the head bone), in units of the distance
  between the eyes, so a uniformly rescaled export still matches.
- **body shape**: vertex and face counts, bounding box, moments and a coarse occupancy
  histogram of all vertices; equal only for the same mesh in the same outfit (duplicates).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from thagen.render.identity.names import name_key
from thagen.rigs.flatten import flatten_group_morph
from thagen.rigs.model import Model
from thagen.rigs.normalize import RigReport

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

SIGNALS_VERSION = 3  # 2: VRM embedded images hashed; 3: version and edition words leave name keys
HASH_SIZE = 32  # the image is reduced to HASH_SIZE^2 before the DCT
COLOUR_GRID = 4
FLAT_STD = 2.0  # luminance std (0..255) below which a texture carries no identity
FACE_ROLES = ("eye_close_both", "eye_close_left", "eye_close_right")
MOUTH_ROLES = ("mouth_open",)
EYE_BONE_ROLES = ("eye_left", "eye_right", "eyes")
MOVED_SHARE = 0.05  # a morph vertex counts when it moves this share of the morph's largest offset
FACE_MATERIAL_SHARE = 0.05  # a material is a face material when it holds this share of them
HIST_BINS = (4, 8, 4)

_texture_memo: dict[tuple[str, int, int], TextureHash | None] = {}


@dataclass(frozen=True)
class TextureHash:
    """One texture's perceptual signature."""

    name: str  # the file name, for evidence messages only
    phash: int  # 64 bits
    colours: tuple[int, ...]  # COLOUR_GRID^2 x RGB mean colours, 0..255
    flat: bool  # too little detail to tell one drawing from another
    dct: tuple[int, ...] = ()  # the 63 low AC coefficients scaled to -127..127 (for correlation)


@dataclass(frozen=True)
class ModelSignals:
    """Everything the grouping compares about one model (JSON-serializable through to_dict)."""

    name: str = ""
    name_key: str = ""
    format: str = ""
    face_textures: tuple[TextureHash, ...] = ()
    all_textures: tuple[TextureHash, ...] = ()
    face_shape: tuple[float, ...] = ()  # 15 numbers, () when the model has no usable face morphs
    face_counts: tuple[int, int] = (0, 0)  # vertices moved by the eye and the mouth morphs
    body_shape: tuple[float, ...] = ()
    vertex_count: int = 0
    face_count: int = 0
    problem: str = ""  # why signals are missing (unreadable model, ...)
    version: int = SIGNALS_VERSION

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSignals:
        kw = dict(data)
        for key in ("face_textures", "all_textures"):
            kw[key] = tuple(
                TextureHash(t["name"], int(t["phash"]), tuple(t["colours"]), bool(t["flat"]), tuple(t["dct"]))
                for t in kw[key]
            )
        for key in ("face_shape", "body_shape", "face_counts"):
            kw[key] = tuple(kw[key])
        return cls(**kw)


# --------------------------------------------------------------------------- textures


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * x + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m


_DCT = _dct_matrix(HASH_SIZE)


def hash_pixels(rgb: np.ndarray, name: str = "") -> TextureHash:
    """Signature of an (H, W, 3) uint8 image already reduced to HASH_SIZE x HASH_SIZE."""
    img = rgb.astype(np.float64)
    luma = img @ np.array([0.299, 0.587, 0.114])
    coeffs = _DCT @ luma @ _DCT.T
    low = coeffs[:8, :8].reshape(-1)
    bits = low > np.median(low[1:])
    phash = int(np.packbits(bits).view(">u8")[0])
    g = HASH_SIZE // COLOUR_GRID
    grid = img.reshape(COLOUR_GRID, g, COLOUR_GRID, g, 3).mean(axis=(1, 3))
    colours = tuple(int(v) for v in np.round(grid).astype(int).reshape(-1))
    ac = low[1:]
    scaled = np.round(ac / max(float(np.abs(ac).max()), 1e-9) * 127).astype(int)
    return TextureHash(name, phash, colours, bool(luma.std() < FLAT_STD), tuple(int(v) for v in scaled))


def _hash_image(im: PILImage, name: str) -> TextureHash:
    """Signature of an open Pillow image, shown over black by its alpha."""
    from PIL import Image

    im.draft("RGB", (HASH_SIZE * 4, HASH_SIZE * 4))  # JPEG: decode at a reduced size
    rgba = im.convert("RGBA")
    black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
    shown = Image.alpha_composite(black, rgba).convert("RGB")
    small = shown.resize((HASH_SIZE, HASH_SIZE), Image.Resampling.BOX)
    return hash_pixels(np.asarray(small, np.uint8), name)


def embedded_texture_hash(data: bytes, name: str) -> TextureHash | None:
    """Signature of an image held in the model file (a VRM's embedded images)."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return _hash_image(im, name)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def texture_hash(path: Path) -> TextureHash | None:
    """Signature of an image file, or None when Pillow cannot read it.

    Colours are composited over black by their alpha first: a resize (which premultiplies)
    changes what transparent pixels hold, and only what shows should count.
    """
    from PIL import Image

    try:
        st = path.stat()
    except OSError:
        return None
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key in _texture_memo:
        return _texture_memo[key]
    result: TextureHash | None
    try:
        with Image.open(path) as im:
            result = _hash_image(im, path.name)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        result = None
    _texture_memo[key] = result
    return result


def phash_distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def dct_correlation(a: TextureHash, b: TextureHash) -> float:
    """Correlation of the low-frequency coefficients: stable where a low-contrast texture's hash
    bits are not (coefficients near the median flip with any re-encoding)."""
    if len(a.dct) != len(b.dct) or not a.dct:
        return 0.0
    x, y = np.asarray(a.dct, np.float64), np.asarray(b.dct, np.float64)
    denom = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(x @ y / denom) if denom > 0 else 0.0


# --------------------------------------------------------------------------- geometry


def _moved_vertices(model: Model, report: RigReport, roles: tuple[str, ...]) -> np.ndarray:
    """Vertices the roles' morphs visibly move (sorted unique indices)."""
    parts: list[np.ndarray] = []
    for role in roles:
        match = report.matches.get(role)
        if match is None or not match.found or match.kind != "morph" or match.index is None:
            continue
        idx, off = flatten_group_morph(model, match.index)
        if idx.size == 0:
            continue
        mag = np.linalg.norm(off, axis=1)
        parts.append(idx[mag >= MOVED_SHARE * mag.max()])
    for role, morph in report.synthetic_morphs.items():
        if role in roles and len(morph.indices):
            mag = np.linalg.norm(np.asarray(morph.values, np.float64), axis=1)
            parts.append(np.asarray(morph.indices)[mag >= MOVED_SHARE * mag.max()])
    if not parts:
        return np.zeros(0, np.int64)
    return np.unique(np.concatenate(parts)).astype(np.int64)


def face_shape(model: Model, report: RigReport) -> tuple[tuple[float, ...], tuple[int, int]]:
    """Eye and mouth centroids and spreads in the head frame, in eye-distance units."""
    head = report.matches.get("head")
    eyes = _moved_vertices(model, report, FACE_ROLES)
    mouth = _moved_vertices(model, report, MOUTH_ROLES)
    if head is None or head.index is None or not head.found or eyes.size < 2 or mouth.size < 1:
        return (), (int(eyes.size), int(mouth.size))
    origin = model.bones[head.index].position.astype(np.float64)
    pos = model.positions.astype(np.float64) - origin
    eye_pos = pos[eyes]
    left = eye_pos[eye_pos[:, 0] > report.head_x - origin[0]]
    right = eye_pos[eye_pos[:, 0] <= report.head_x - origin[0]]
    if len(left) == 0 or len(right) == 0:
        return (), (int(eyes.size), int(mouth.size))
    cl, cr, cm = left.mean(axis=0), right.mean(axis=0), pos[mouth].mean(axis=0)
    unit = float(np.linalg.norm(cl - cr))
    if unit <= 1e-9:
        return (), (int(eyes.size), int(mouth.size))
    spread_eyes = (left.std(axis=0) + right.std(axis=0)) / 2
    values = np.concatenate([cl, cr, cm, spread_eyes, pos[mouth].std(axis=0)]) / unit
    return tuple(round(float(v), 5) for v in values), (int(eyes.size), int(mouth.size))


def body_shape(model: Model) -> tuple[float, ...]:
    """Bounding box (6), mean and std (6) in MMD units, then an occupancy histogram (fractions)."""
    if model.vertex_count == 0:
        return ()
    pos = model.positions.astype(np.float64)
    lo, hi = pos.min(axis=0), pos.max(axis=0)
    span = np.where(hi - lo > 1e-9, hi - lo, 1.0)
    cells = np.clip(((pos - lo) / span * np.array(HIST_BINS)).astype(int), 0, np.array(HIST_BINS) - 1)
    flat = np.ravel_multi_index(cells.T, HIST_BINS)
    hist = np.bincount(flat, minlength=int(np.prod(HIST_BINS))) / len(pos)
    head = np.concatenate([lo, hi, pos.mean(axis=0), pos.std(axis=0)])
    return tuple(round(float(v), 5) for v in np.concatenate([head, hist]))


def _eye_bone_vertices(model: Model, report: RigReport) -> np.ndarray:
    """Per-vertex flag: mostly weighted to an eye bone (the eyeballs, whose texture is the iris)."""
    bones = [
        m.index
        for role in EYE_BONE_ROLES
        if (m := report.matches.get(role)) is not None
        and m.found
        and m.kind == "bone"
        and m.index is not None
    ]
    if not bones or model.bone_indices.size == 0:
        return np.zeros(model.vertex_count, bool)
    hit = np.isin(model.bone_indices, bones) & (model.bone_weights > 0)
    return np.where(hit, model.bone_weights, 0.0).sum(axis=1) >= 0.5


def face_materials(model: Model, report: RigReport) -> list[int]:
    """Materials holding FACE_MATERIAL_SHARE of the eye and mouth morph vertices (skin, lids,
    mouth), or whose vertices mostly follow an eye bone (the eyes)."""
    moved = _moved_vertices(model, report, FACE_ROLES + MOUTH_ROLES)
    if not model.materials:
        return []
    is_moved = np.zeros(model.vertex_count, bool)
    is_moved[moved] = True
    on_eye_bone = _eye_bone_vertices(model, report)
    out = []
    for i, (start, count) in enumerate(model.material_face_ranges()):
        verts = np.unique(model.faces[start : start + count])
        if verts.size == 0:
            continue
        hits = int(np.count_nonzero(is_moved[verts]))
        if (moved.size and hits >= FACE_MATERIAL_SHARE * moved.size) or on_eye_bone[verts].mean() >= 0.5:
            out.append(i)
    return out


# --------------------------------------------------------------------------- one model


def _hash_slots(model: Model, slots: list[int]) -> tuple[TextureHash, ...]:
    from thagen.rigs.formats.textures import resolve_texture

    out: dict[str, TextureHash] = {}
    embedded = model.vrm.embedded_images if model.vrm is not None else {}
    for slot in sorted(set(slots)):
        if not (0 <= slot < len(model.textures)):
            continue
        if model.textures[slot] in embedded:  # a VRM's image inside the file
            label = model.textures[slot].split(":", 2)[-1] or model.textures[slot]
            th = embedded_texture_hash(embedded[model.textures[slot]], label)
            if th is not None:
                out[model.textures[slot]] = th
            continue
        if model.source_path is None:
            continue
        path = resolve_texture(model.source_path, model.textures[slot])
        th = texture_hash(path) if path is not None else None
        if th is not None:
            out[str(path)] = th
    return tuple(out[k] for k in sorted(out))


def compute_signals(model: Model, report: RigReport) -> ModelSignals:
    """A model's signals; textures resolve from model.source_path (missing files are skipped)."""
    face_mats = face_materials(model, report)
    shape, counts = face_shape(model, report)
    return ModelSignals(
        name=model.name,
        name_key=name_key(model.name) or name_key(model.source_path.stem if model.source_path else ""),
        format=model.format,
        face_textures=_hash_slots(model, [model.materials[i].texture for i in face_mats]),
        all_textures=_hash_slots(model, [m.texture for m in model.materials]),
        face_shape=shape,
        face_counts=counts,
        body_shape=body_shape(model),
        vertex_count=model.vertex_count,
        face_count=model.face_count,
    )


def texture_files(model: Model) -> list[Path]:
    """The texture files the model's materials use (those that exist)."""
    from thagen.rigs.formats.textures import resolve_texture

    if model.source_path is None:
        return []
    slots = {m.texture for m in model.materials if 0 <= m.texture < len(model.textures)}
    found = (resolve_texture(model.source_path, model.textures[s]) for s in sorted(slots))
    return [p for p in found if p is not None]


def signals_for_file(
    path: Path, member: str | None = None, cache_dir: Path | None = None
) -> tuple[ModelSignals, list[Path]]:
    """Read, normalize and sign one model, with the files the signals depend on (the model or
    zip, and loose textures). Any failure is a ModelSignals with `problem` set, never an error."""
    from thagen.rigs.normalize import normalize
    from thagen.rigs.reader import read_model

    try:
        model = read_model(path, member=member, cache_dir=cache_dir)
        report = normalize(model, model_path=path, discover=member is None)
        deps = [Path(path)] + ([] if member is not None else texture_files(model))
        return compute_signals(model, report), deps
    except Exception as exc:  # noqa: BLE001 - one unreadable model only loses its own signals
        text = str(exc).replace(os.linesep, " ").strip()
        return ModelSignals(problem=f"{type(exc).__name__}: {text}"), [Path(path)]
