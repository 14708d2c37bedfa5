"""What `thagen inspect` reports about a model: a plain dict, printed as text or JSON.

Kept apart from the command so other tools (rig survey, dataset provenance) can embed the
same facts, and so tests can check numbers without parsing text. The report carries the
model's license record too (rigs/licenses/), since whether a model may be used at all is the
first thing to know about it.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from thagen.rigs.formats.textures import texture_report
from thagen.rigs.formats.vrm.report import format_vrm, vrm_report
from thagen.rigs.licenses import LicenseRecord, read_model_license
from thagen.rigs.model import Bone, BoneFlag, DeformType, Model, MorphKind
from thagen.rigs.normalize.overrides import find_override_file

PANELS = {0: "system", 1: "eyebrow", 2: "eye", 3: "mouth", 4: "other"}


def _kind_name(kind: int) -> str:
    try:
        return MorphKind(kind).name.lower()
    except ValueError:
        return f"kind{kind}"


def bone_entry(model: Model, index: int, bone: Bone) -> dict[str, Any]:
    """One bone as an override file author needs it: names, parent, and the flags that matter
    (IK, inherit rotation from another bone, visible / operable in MMD)."""
    flags = BoneFlag(bone.flags)
    parent = bone.parent if 0 <= bone.parent < len(model.bones) else -1
    inherit = bone.inherit_parent if BoneFlag.INHERIT_ROTATION in flags else -1
    return {
        "index": index,
        "name": bone.name,
        "name_en": bone.name_en,
        "parent": parent,
        "parent_name": model.bones[parent].name if parent >= 0 else None,
        "ik": bone.ik is not None,
        "inherit_rotation": (
            {"from": inherit, "weight": float(bone.inherit_weight)}
            if 0 <= inherit < len(model.bones)
            else None
        ),
        "visible": BoneFlag.VISIBLE in flags,
        "operable": BoneFlag.ENABLED in flags,
        "rotatable": BoneFlag.ROTATABLE in flags,
        "translatable": BoneFlag.TRANSLATABLE in flags,
    }


def model_folder_license(model: Model, path: Path, member: str | None = None) -> LicenseRecord:
    """The license `thagen inspect` and `thagen rig check` show: read from the model, the files in
    its own folder (the collection root is the model's folder) and its override file."""
    return read_model_license(model, path, member, override_file=find_override_file(path, member))


def inspect_model(
    model: Model,
    *,
    path: str | Path | None = None,
    member: str | None = None,
    license: LicenseRecord | None = None,
) -> dict[str, Any]:
    """The inspect report. `path` is the file the user named (a .zip for archives), `member` the
    model inside; `license` its license record (`model_folder_license`), None to leave it out."""
    kinds = Counter(_kind_name(m.kind) for m in model.morphs)
    deform = Counter(np.asarray(model.deform_types, np.int64).tolist())
    textures = texture_report(model)
    n_found = sum(1 for t in textures if t["found"])
    ik_bones = sum(1 for b in model.bones if b.ik is not None)
    extra_uv = int(model.extra_uvs.shape[1]) if model.extra_uvs.ndim == 3 else 0
    return {
        "file": str(path if path is not None else model.source_path),
        "member": member,
        "model_path": str(model.source_path) if model.source_path is not None else None,
        "format": model.format,
        "version": float(model.version),
        "encoding": model.encoding,
        "name": {"jp": model.name, "en": model.name_en},
        "counts": {
            "vertices": model.vertex_count,
            "faces": model.face_count,
            "materials": len(model.materials),
            "textures": len(model.textures),
            "bones": len(model.bones),
            "ik_bones": ik_bones,
            "morphs": len(model.morphs),
            "display_frames": len(model.display_frames),
            "rigid_bodies": len(model.rigid_bodies),
            "joints": len(model.joints),
            "soft_bodies": len(model.soft_bodies),
        },
        "morph_kinds": dict(sorted(kinds.items(), key=lambda kv: -kv[1])),
        "additional_uv": extra_uv,
        "deform_types": {
            DeformType(t).name: int(c) for t, c in sorted(deform.items()) if t in set(DeformType)
        },
        "textures_found": n_found,
        "textures_missing": len(textures) - n_found,
        "textures": textures,
        "materials": [
            {
                "index": i,
                "name": m.name,
                "name_en": m.name_en,
                "faces": int(m.face_count),
                "texture": model.textures[m.texture] if 0 <= m.texture < len(model.textures) else None,
                "double_sided": m.double_sided,
            }
            for i, m in enumerate(model.materials)
        ],
        "bones": [bone_entry(model, i, b) for i, b in enumerate(model.bones)],
        "morphs": [
            {
                "index": i,
                "name": m.name,
                "name_en": m.name_en,
                "kind": _kind_name(m.kind),
                "panel": PANELS.get(m.panel, str(m.panel)),
                "elements": int(len(m.indices)),
            }
            for i, m in enumerate(model.morphs)
        ],
        "display_frames": [
            {"name": f.name, "name_en": f.name_en, "special": f.special, "items": len(f.items)}
            for f in model.display_frames
        ],
        "vrm": vrm_report(model),
        "license": None if license is None else license.to_json(),
    }


# ---------------------------------------------------------------- text


def _width(text: str) -> int:
    """Columns a string takes in a terminal (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    gap = " " * max(0, width - _width(text))
    return gap + text if right else text + gap


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max([_width(h)] + [_width(r[i]) for r in rows]) for i, h in enumerate(headers)]
    lines = [
        "  " + "  ".join(_pad(h, w, i in right) for i, (h, w) in enumerate(zip(headers, widths))).rstrip()
    ]
    for r in rows:
        lines.append(
            "  " + "  ".join(_pad(c, w, i in right) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
        )
    return lines


def _bone_row(b: dict[str, Any]) -> list[str]:
    inherit = b["inherit_rotation"]
    flags = [
        name for name, on in (("IK", b["ik"]), ("visible", b["visible"]), ("operable", b["operable"])) if on
    ]
    return [
        str(b["index"]),
        b["name"],
        b["name_en"],
        "-" if b["parent"] < 0 else f"{b['parent']} {b['parent_name']}",
        " ".join(flags),
        f"{inherit['from']} x{inherit['weight']:g}" if inherit else "",
    ]


def format_report(report: dict[str, Any], *, bones: bool = False) -> str:
    """Human-readable, aligned text for a report from `inspect_model` (`bones`: add the bone table)."""
    c = report["counts"]
    kinds = ", ".join(f"{k} {v:,}" for k, v in report["morph_kinds"].items())
    deform = ", ".join(f"{k} {v:,}" for k, v in report["deform_types"].items())
    fmt = f"{report['format'].upper()} {report['version']:.1f}, {report['encoding']}"
    if report.get("vrm"):
        fmt = f"VRM {report['vrm']['spec_version']} (glTF 2.0), {report['encoding']}"
    name = report["name"]["jp"] + (f"  ({report['name']['en']})" if report["name"]["en"] else "")
    summary = [
        ("file", report["file"] + (f"  [{report['member']}]" if report["member"] else "")),
        ("format", fmt),
        ("name", name),
        ("vertices", f"{c['vertices']:,}"),
        ("faces", f"{c['faces']:,}"),
        ("materials", f"{c['materials']:,}"),
        (
            "textures",
            f"{c['textures']:,} ({report['textures_found']} found, {report['textures_missing']} missing)",
        ),
        ("bones", f"{c['bones']:,} ({c['ik_bones']} IK)"),
        ("morphs", f"{c['morphs']:,}" + (f" ({kinds})" if kinds else "")),
        ("additional UVs", str(report["additional_uv"])),
        ("deform types", deform or "-"),
        ("display frames", f"{c['display_frames']:,}"),
        ("rigid bodies", f"{c['rigid_bodies']:,}"),
        ("joints", f"{c['joints']:,}"),
    ]
    if c["soft_bodies"]:
        summary.append(("soft bodies", f"{c['soft_bodies']:,}"))
    label = max(_width(k) for k, _ in summary)
    lines = [f"{_pad(k, label)}  {v}" for k, v in summary]
    if report.get("license"):
        lines += ["", *LicenseRecord.from_json(report["license"]).describe()]
    if report["textures"]:
        lines += ["", "Textures"]
        rows = [
            [
                str(t["index"]),
                "found" if t["found"] else "MISSING",
                t["stored"],
                ", ".join(t["used_by"]) or "-",
            ]
            for t in report["textures"]
        ]
        lines += _table(["#", "on disk", "stored path", "used by"], rows, {0})
    if report["materials"]:
        lines += ["", "Materials"]
        rows = [
            [
                str(m["index"]),
                m["name"],
                f"{m['faces']:,}",
                m["texture"] or "-",
                "yes" if m["double_sided"] else "",
            ]
            for m in report["materials"]
        ]
        lines += _table(["#", "name", "faces", "texture", "2-sided"], rows, {0, 2})
    if bones and report["bones"]:
        lines += ["", "Bones"]
        rows = [_bone_row(b) for b in report["bones"]]
        lines += _table(["#", "name", "english", "parent", "flags", "inherits rotation"], rows, {0})
    if report["morphs"]:
        lines += ["", "Morphs"]
        rows = [
            [str(m["index"]), m["name"], m["name_en"], m["kind"], m["panel"], f"{m['elements']:,}"]
            for m in report["morphs"]
        ]
        lines += _table(["#", "name", "english", "kind", "panel", "elements"], rows, {0, 5})
    if report["display_frames"]:
        lines += ["", "Display frames"]
        rows = [
            [f["name"], f["name_en"], f"{f['items']:,}", "special" if f["special"] else ""]
            for f in report["display_frames"]
        ]
        lines += _table(["name", "english", "items", ""], rows, {2})
    lines += format_vrm(report.get("vrm"))
    return "\n".join(lines)
