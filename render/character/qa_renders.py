"""The QA part of rendering one character: what to render for QA, where to look, the checks.

Shared by the render (render/character/render.py) and `thagen qa` (render/run/recheck.py), which re-runs
the same checks from a finished OUT without Blender.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from thagen.render.character import qa_checks as qa_mod
from thagen.render.character.contact_sheet import make_contact_sheet
from thagen.render.character.flags import FRAMING_CONFIDENCE_THRESHOLD, FRAMING_UNCONFIRMED
from thagen.render.character.fonts import sheet_title
from thagen.render.character.records import suppress_all
from thagen.render.character.vector_hooks import vector_label
from thagen.render.framing.presets import preset_rows

if TYPE_CHECKING:
    from pathlib import Path

    from thagen.render.framing.estimate import Framing
    from thagen.render.scene.renderer import Renderer
    from thagen.rigs.model import Model
    from thagen.rigs.normalize import RigReport

CONTACT_SAMPLES = 4


def qa_poses(rest_pose: dict[str, float]) -> dict[str, dict[str, float]]:
    """The QA images' poses: the reset pose with both eyes closed, and with the mouth closed."""
    return {
        "eyes_closed": {**rest_pose, "left_eye": 1.0, "right_eye": 1.0},
        "mouth_closed": {**rest_pose, "mouth": 0.0},
    }


def qa_renders(shot: Callable[[dict], bytes], rest_pose: dict[str, float]) -> dict[str, bytes]:
    """The QA images (qa_poses), rendered by `shot`."""
    return {name: shot(pose) for name, pose in qa_poses(rest_pose).items()}


def keep_for_qa(i: int, pose: dict, keep: list) -> bool:
    """Keep a few early samples (contact sheet) and the most rotated ones (rotation check)."""
    return i < CONTACT_SAMPLES or len(keep) < CONTACT_SAMPLES + 2 and _rot_mag(pose) >= 0.5


def _rot_mag(pose: dict) -> float:
    return max(abs(float(pose.get(k, 0.0))) for k in ("head_x", "head_y", "neck_z"))


def framing_rows(size: int, preset: str = "tha1") -> dict[str, float]:
    """Where the framing put the head top, chin and centre, in pixels (THA1: rows size/4, 3size/4)."""
    if preset != "tha1":
        return preset_rows(preset, size)
    return {"head_top": size / 4.0, "chin": 3.0 * size / 4.0, "center_x": size / 2.0}


def _morph_points(model: Model, rig: RigReport, role: str) -> np.ndarray | None:
    """MMD-space positions of the vertices a role's morph moves (rest and moved)."""
    from thagen.rigs.flatten import flatten_group_morph

    if role in rig.synthetic_morphs:
        m = rig.synthetic_morphs[role]
        idx, off = np.asarray(m.indices), np.asarray(m.values, np.float64)
    else:
        match = rig.matches.get(role)
        if match is None or not match.found or match.index is None:
            return None
        idx, off = flatten_group_morph(model, match.index)
    if len(idx) == 0:
        return None
    off = np.asarray(off, np.float64).reshape(len(idx), -1)[:, :3]
    mag = np.linalg.norm(off, axis=1)
    keep = mag > 0.1 * mag.max() if mag.size and mag.max() > 0 else np.ones(len(idx), bool)
    pos = np.asarray(model.positions, np.float64)[np.asarray(idx)[keep]]
    return np.concatenate([pos, pos + off[keep]], axis=0)


def expected_regions(
    model: Model, rig: RigReport, renderer: Renderer, framing: Framing, size: int
) -> dict[str, Any]:
    """Pixel boxes where closing the eyes / the mouth should change the image."""
    regions: dict[str, Any] = {}
    rows = framing_rows(size)
    fallback = qa_mod.fallback_regions((size, size), rows["head_top"], rows["chin"], rows["center_x"])
    for name, roles in (
        ("eyes", ("eye_close_left", "eye_close_right", "eye_close_both")),
        ("mouth", ("mouth_open",)),
    ):
        pts = [p for r in roles if (p := _morph_points(model, rig, r)) is not None]
        box = None
        if pts and hasattr(renderer, "project"):
            with suppress_all():
                px = np.asarray(renderer.project(np.concatenate(pts)), np.float64)[:, :2]
                box = qa_mod.points_box(px, 0.03, (size, size))
        near = fallback[name]
        regions[name] = list(box) if box else list(near) if near else None
        regions[f"{name}_source"] = "projected" if box else "framing"
    from thagen.render.character.texture_qa import texture_record

    if (textures := texture_record(model, rig, renderer, framing, size)) is not None:
        regions["textures"] = textures  # missing textures and their share of the head box
    return regions


def run_checks(
    rest: np.ndarray,
    qa_images: dict[str, np.ndarray],
    pairs: list[tuple[np.ndarray, np.ndarray, dict]],
    regions: dict[str, Any],
    rows: dict[str, float],
    rest_pose: dict[str, float],
) -> qa_mod.QAResult:
    """All pixel checks of one character (the same function `thagen qa` runs from OUT)."""
    res = qa_mod.check_framing(rest, head_top_row=rows["head_top"], chin_row=rows["chin"])
    from thagen.render.character.texture_qa import check_textures

    res.merge(check_textures(regions.get("textures")))
    if "eyes_closed" in qa_images and rest_pose.get("left_eye", 0.0) < 0.5:
        res.merge(qa_mod.check_region_change(rest, qa_images["eyes_closed"], regions.get("eyes"), "eyes"))
    if "mouth_closed" in qa_images and rest_pose.get("mouth", 1.0) > 0.5:
        res.merge(qa_mod.check_region_change(rest, qa_images["mouth_closed"], regions.get("mouth"), "mouth"))
    res.merge(qa_mod.check_rotation(pairs))
    return res


def contact_sheet_for(
    character_id: str,
    rest: np.ndarray,
    qa_images: dict[str, np.ndarray],
    pairs: list[tuple[np.ndarray, np.ndarray, dict]],
    qa_dict: dict[str, Any],
    name: str = "",
) -> bytes:
    """The character's contact sheet: rest (with framing guides), QA images (with their
    expected regions), then expr/rot pairs labelled with their pose; titled `name (id)`."""
    rows = qa_dict.get("rows") or framing_rows(rest.shape[0])
    tiles: list[tuple[str, np.ndarray]] = [("rest", rest)]
    boxes: dict[int, tuple[Any, tuple]] = {}
    regions = qa_dict.get("regions") or {}
    for qa_name, img in qa_images.items():
        boxes[len(tiles)] = (regions.get(qa_name.split("_")[0]), (255, 160, 0, 255))
        tiles.append((qa_name.replace("_", " "), img))
    for expr, rot, pose in pairs:
        e = f"e{pose.get('left_eye', 0):.1f}/{pose.get('right_eye', 0):.1f} m{pose.get('mouth', 0):.1f}"
        e = vector_label(pose) or e  # THA2 / THA3: the strongest parameters by name
        r = f"x{pose.get('head_x', 0):+.1f} y{pose.get('head_y', 0):+.1f} z{pose.get('neck_z', 0):+.1f}"
        tiles.append((e, expr))
        tiles.append((r, rot))
    return make_contact_sheet(
        tiles,
        title=sheet_title(name, character_id),
        flags=qa_dict.get("flags", []),
        guides=rows,
        boxes=boxes,
        columns=3 + 2 * 2,
    )


def framing_confidence_check(
    model: Model, rig: RigReport, framing: Framing, annotation_path: Path | None, mouth_weight: float
) -> qa_mod.QAResult:
    """`framing_unconfirmed` when no person confirmed the head top / chin and the estimate
    doubts itself (confidence below FRAMING_CONFIDENCE_THRESHOLD, render/character/flags.py).

    The pixel checks only see whether the head fills the rows the framing chose; a wrong
    framing that happens to fill them (a hat taken as skull) passes them, and the estimate's
    own confidence is what catches it. A `source: auto` annotation file is the estimate
    written down (it carries its confidence); a person's annotation is a confirmation.
    """
    from thagen.render.framing.annotation_file import load_annotation
    from thagen.render.framing.confidence import estimate_confidence

    res = qa_mod.QAResult()
    if framing.source == "estimate":
        try:
            conf = estimate_confidence(model, rig, framing, mouth_weight=mouth_weight)
            score, reasons = conf.score, list(conf.reasons)
        except (ValueError, IndexError, FloatingPointError) as exc:  # unscored is unconfirmed
            score, reasons = 0.0, [f"the confidence could not be computed ({type(exc).__name__}: {exc})"]
    elif annotation_path is not None:
        ann = load_annotation(annotation_path)
        if ann.kind != "auto" or ann.confidence is None:
            return res  # a person's answer
        score, reasons = float(ann.confidence), list(ann.reasons)
    else:
        return res
    res.metrics["framing_confidence"] = round(float(score), 4)
    res.metrics["framing_confidence_reasons"] = reasons
    if score < FRAMING_CONFIDENCE_THRESHOLD:
        res.flags.append(FRAMING_UNCONFIRMED)
    return res
