"""`thagen qa OUT`: re-check a finished output from its shards and saved QA images, no Blender.

The same pixel checks as the render (render/character/qa_renders.py) run again from what is on disk,
so a dataset copied elsewhere, or rendered by an older thagen, can be audited.
"""

from __future__ import annotations

import contextlib
import json
import tarfile
from pathlib import Path
from typing import Any

import yaml

from thagen.errors import ConfigError
from thagen.files import atomic_write_bytes
from thagen.render.output.jsonl import read_jsonl
from thagen.render.output.layout import CHARACTERS, DATASET_YAML, journal_files, split_dirs


def _part(sample: dict[str, bytes | str], name: str) -> bytes:
    """A sample's file (iter_shard gives bytes for every part; only `__key__` is text)."""
    data = sample[name]
    if not isinstance(data, bytes):
        raise ValueError(f"{name} of {sample['__key__']!s} is not a file")
    return data


def _check_pose_record(rec: object, cid: str, index: int) -> str | None:
    from thagen.render.output.shards import POSE_NAMES
    from thagen.render.poses.sampling import DOMAINS

    if not isinstance(rec, dict) or rec.get("character") != cid or rec.get("index") != index:
        return "pose.json names another character or index"
    pose = rec.get("pose")
    if not isinstance(pose, dict) or set(pose) != set(POSE_NAMES):
        return "pose.json lacks pose values"
    for n in POSE_NAMES:
        lo, hi = DOMAINS[n]
        if not lo <= float(pose[n]) <= hi:
            return f"pose value {n}={pose[n]} out of range"
    return None


def qa_character(out: Path, rec: dict[str, Any], *, sheet: bool = True) -> dict[str, Any]:
    """Re-check one journalled character from its shards and saved QA images (no Blender).

    From the shards: shard integrity, keys, pose.json, identical reset images, framing/alpha
    and rotation checks. From characters/<id>/qa_*.png + qa.json (written at render time):
    the eyes/mouth checks. Rewrites qa.json and, with `sheet`, contact_sheet.png.
    """
    from thagen.render.character import qa_checks as qa_mod
    from thagen.render.character.flags import carried_flags
    from thagen.render.character.qa_renders import contact_sheet_for, framing_rows, run_checks
    from thagen.render.output.shards import iter_shard

    cid = rec["id"]
    cdir = out / CHARACTERS / cid
    problems: list[str] = []
    n = 0
    rest_png: bytes | None = None
    rest_differs = False
    chosen: list[tuple[float, int, dict]] = []  # (rotation magnitude, index, pose)
    first: list[tuple[bytes, bytes, dict]] = []
    for rel in rec.get("shards", []):
        try:
            for sample in iter_shard(out / rel):
                expected = f"{cid}/{n:06d}"
                if sample["__key__"] != expected:
                    problems.append(f"{rel}: key {sample['__key__']!s} where {expected} was expected")
                    break
                pose_rec = json.loads(_part(sample, "pose.json"))
                bad = _check_pose_record(pose_rec, cid, n)
                if bad:
                    problems.append(f"{rel}: {expected}: {bad}")
                if rest_png is None:
                    rest_png = _part(sample, "rest.png")
                elif _part(sample, "rest.png") != rest_png:
                    rest_differs = True
                pose = pose_rec.get("pose", {})
                mag = max(abs(float(pose.get(k, 0.0))) for k in ("head_x", "head_y", "neck_z"))
                if len(first) < 4:
                    first.append((_part(sample, "expr.png"), _part(sample, "rot.png"), pose))
                chosen.append((mag, n, pose))
                chosen.sort(key=lambda c: -c[0])
                if len(chosen) > 3:
                    chosen.pop()
                n += 1
        except (OSError, ValueError, KeyError, json.JSONDecodeError, tarfile.TarError) as exc:
            problems.append(f"{rel}: unreadable: {exc}")
    if n != int(rec.get("samples", 0)):
        problems.append(f"{n} samples in the shards, the journal says {rec.get('samples')}")

    # Pairs for the rotation check: decode only the few most-rotated samples.
    wanted = {c[1] for c in chosen}
    pairs_rot: list[tuple[Any, Any, dict]] = []
    if wanted:
        idx = 0
        for rel in rec.get("shards", []):
            try:
                for sample in iter_shard(out / rel):
                    if idx in wanted:
                        pose = json.loads(_part(sample, "pose.json"))["pose"]
                        pairs_rot.append(
                            (
                                qa_mod.decode_png(_part(sample, "expr.png")),
                                qa_mod.decode_png(_part(sample, "rot.png")),
                                pose,
                            )
                        )
                    idx += 1
            except Exception:  # noqa: BLE001 - already reported above
                break
    saved: dict[str, Any] = {}
    if (cdir / "qa.json").exists():
        with contextlib.suppress(Exception):
            saved = json.loads((cdir / "qa.json").read_text())
    if rest_png is None and (cdir / "rest.png").exists():
        rest_png = (cdir / "rest.png").read_bytes()
    result: dict[str, Any] = {"id": cid, "samples": n, "problems": problems}
    if rest_png is None:
        result["flags"] = ["no_images"]
        return result
    rest = qa_mod.decode_png(rest_png)
    size = rest.shape[0]
    qa_imgs = {}
    for name in ("eyes_closed", "mouth_closed"):
        p = cdir / f"qa_{name}.png"
        if p.exists():
            qa_imgs[name] = qa_mod.decode_png(p.read_bytes())
    rows = saved.get("rows") or framing_rows(size)
    rest_pose = saved.get("rest_pose") or {"left_eye": 0.0, "right_eye": 0.0, "mouth": 1.0}
    res = run_checks(rest, qa_imgs, pairs_rot, saved.get("regions") or {}, rows, rest_pose)
    # flags made at render time from the model, not the pixels (an unconfirmed framing): kept
    carried = [f for f in carried_flags(saved.get("flags") or []) if f not in res.flags]
    res.flags += carried
    res.metrics.update(
        {k: v for k, v in (saved.get("metrics") or {}).items() if k.startswith("framing_confidence")}
    )
    if rest_differs:
        res.flags.append("rest_images_differ")
    if problems:
        res.flags.append("shard_problems")
    qa_dict = {
        **res.to_dict(),
        "regions": saved.get("regions") or {},
        "rows": rows,
        "rest_pose": rest_pose,
        "rechecked": True,
        "unavailable": [f"qa_{k}.png" for k in ("eyes_closed", "mouth_closed") if k not in qa_imgs],
    }
    cdir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(cdir / "qa.json", (json.dumps(qa_dict, indent=1, sort_keys=True) + "\n").encode())
    if sheet:
        pairs = [(qa_mod.decode_png(e), qa_mod.decode_png(r), p) for e, r, p in first]
        name = _model_name(cdir)
        atomic_write_bytes(
            cdir / "contact_sheet.png", contact_sheet_for(cid, rest, qa_imgs, pairs, qa_dict, name=name)
        )
    result["flags"] = list(res.flags)
    return result


def qa_output(out: Path, *, sheets: bool = True) -> dict[str, Any]:
    """`thagen qa OUT`: re-check every journalled character; update dataset.yaml's QA flags."""
    out = Path(out)
    files = journal_files(out)
    if not files:
        raise ConfigError(f"{out}: no journal.jsonl; is this a thagen render output?")
    journal = {r["id"]: r for p in files for r in read_jsonl(p) if "id" in r}
    chars: dict[str, Any] = {}
    for cid, rec in sorted(journal.items()):
        chars[cid] = qa_character(out, rec, sheet=sheets)
    # Shards no journal line claims (a killed run not yet resumed) and leftover temp files.
    claimed = {r for rec in journal.values() for r in rec.get("shards", [])}
    strays = []
    for d in split_dirs(out, []):
        for p in d.iterdir():
            rel = p.relative_to(out).as_posix()
            if (p.name.endswith(".tar") and rel not in claimed) or ".tmp-" in p.name:
                strays.append(rel)
    ds = out / DATASET_YAML
    if ds.exists():
        data = yaml.safe_load(ds.read_text()) or {}
        for cid, entry in (data.get("characters") or {}).items():
            if cid in chars:
                entry["qa_flags"] = chars[cid]["flags"]
        atomic_write_bytes(ds, yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120).encode())
    return {
        "characters": chars,
        "checked": len(chars),
        "flagged": sum(1 for c in chars.values() if c["flags"]),
        "broken": sum(1 for c in chars.values() if c["problems"]),
        "strays": strays,
    }


def _model_name(cdir: Path) -> str:
    """The model's own name from the character's rig report ('' when unreadable)."""
    try:
        return str(json.loads((cdir / "rig_report.json").read_text(encoding="utf-8")).get("name") or "")
    except (OSError, ValueError, AttributeError):
        return ""
