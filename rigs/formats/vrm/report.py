"""The VRM part of `thagen inspect`: humanoid bones, expressions (binary ones marked), MToon, notes."""

from __future__ import annotations

from typing import Any

from thagen.rigs.model import Model


def vrm_report(model: Model) -> dict[str, Any] | None:
    """A plain dict of `model.vrm`, or None for a PMX / PMD model."""
    info = model.vrm
    if info is None:
        return None
    return {
        "spec_version": info.spec_version or "none (plain glTF)",
        "title": info.title,
        "authors": list(info.authors),
        "humanoid": {
            key: model.bones[i].name for key, i in info.humanoid.items() if 0 <= i < len(model.bones)
        },
        "expressions": [
            {
                "name": e.name,
                "preset": e.preset,
                "binary": e.is_binary,
                "morph": e.morph,
                "material_binds": e.material_binds,
                "texture_transform_binds": e.texture_transform_binds,
                "overrides": dict(e.overrides),
            }
            for e in info.expressions
        ],
        "binary_expressions": info.binary_expressions,
        "mtoon_materials": sum(1 for m in info.materials if m.shader == "MToon"),
        "embedded_images": len(info.embedded_images),
        "notes": list(info.notes),
    }


def format_vrm(report: dict[str, Any] | None) -> list[str]:
    """Text lines for the VRM section (empty for PMX / PMD)."""
    if not report:
        return []
    lines = ["", f"VRM {report['spec_version']}" + (f": {report['title']}" if report["title"] else "")]
    human = report["humanoid"]
    key_bones = ("hips", "spine", "chest", "neck", "head", "leftEye", "rightEye")
    shown = ", ".join(f"{k}={human[k]}" for k in key_bones if k in human)
    lines.append(f"  humanoid bones: {len(human)}" + (f" ({shown})" if shown else ""))
    exprs = report["expressions"]
    presets = [e["preset"] for e in exprs if e["preset"]]
    lines.append(f"  expressions: {len(exprs)} ({len(presets)} presets: {', '.join(presets) or '-'})")
    lines.append(f"  binary (isBinary): {', '.join(report['binary_expressions']) or '-'}")
    lines.append(
        f"  MToon materials: {report['mtoon_materials']}, embedded images: {report['embedded_images']}"
    )
    lines += [f"  note: {n}" for n in report["notes"]]
    return lines
