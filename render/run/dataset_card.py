"""OUT/README.md and OUT/CREDITS.md: the dataset card a model hub shows, and every credit line.

A rendered dataset is made of other people's characters; publishing it means saying under
whose terms each character's images stand and carrying the credit each author asked for. The
card is written from OUT/dataset.yaml and OUT/index.json only (never from the manifest or the
machine), by the merge that completes an output, so a serial run and a merge of `--part` runs
write byte-identical cards. Its YAML front matter is what the Hugging Face Hub reads (license,
size, splits as `configs`, tags) plus a `thagen:` block (version, pose vector, counts, licenses);
CREDITS.md copies each credit line verbatim, in a code block so no Markdown touches it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from thagen.files import atomic_write_bytes
from thagen.pose_vectors import pose_vector_def
from thagen.render.output.layout import (
    CARD_FILES,
    CARD_MARKER,
    DATASET_YAML,
    EXCLUDED,
    INDEX_JSON,
    is_thagen_card,
)
from thagen.rigs.licenses import Credit, LicenseRecord, LicenseTally, Permission

README, CREDITS = CARD_FILES
log = logging.getLogger(__name__)

# CC licenses the Hub knows by id (its license list); anything else is `license: other`
_HUB_LICENSES = {
    "cc0 1.0": "cc0-1.0",
    "cc0": "cc0-1.0",
    **{
        f"cc {kind} {version}": f"cc-{kind.replace(' ', '-')}-{version}".lower()
        for kind, versions in {
            "by": ("2.0", "2.5", "3.0", "4.0"),
            "by-sa": ("3.0", "4.0"),
            "by-nc": ("2.0", "3.0", "4.0"),
            "by-nd": ("4.0",),
            "by-nc-sa": ("2.0", "3.0", "4.0"),
            "by-nc-nd": ("3.0", "4.0"),
        }.items()
        for version in versions
    },
}
_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))
_BACKTICKS = re.compile(r"`+")


def _record(entry: Mapping[str, Any]) -> LicenseRecord | None:
    data = entry.get("license")
    try:
        return LicenseRecord.from_json(data) if isinstance(data, Mapping) else None
    except ValueError:
        return None


def _hub_license(records: list[LicenseRecord | None]) -> str:
    """The Hub's id when every character has one and the same CC license, else `other`."""
    names = {None if r is None else r.license_name for r in records}
    if len(names) != 1:
        return "other"
    (name,) = names
    return _HUB_LICENSES.get((name or "").lower(), "other")


def _size_category(samples: int) -> str:
    return next((label for limit, label in _SIZES if samples < limit), "n>1M")


def _cell(text: object) -> str:
    """A Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|") if text not in (None, "") else "-"


def _fenced(text: str) -> list[str]:
    """`text` verbatim in a code block whose fence is longer than any backtick run in it."""
    longest = max((len(m.group()) for m in _BACKTICKS.finditer(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}text", text, fence]


def _published_splits(data: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    splits = data.get("splits") or {}
    return {k: v for k, v in splits.items() if not str(k).startswith(f"{EXCLUDED}/")}


def front_matter(data: Mapping[str, Any], index: Mapping[str, Any]) -> dict[str, Any]:
    """The card's YAML header: the Hub's keys, then thagen's own block."""
    characters: Mapping[str, Any] = data.get("characters") or {}
    records = [_record(entry) for entry in characters.values()]
    manifest = data.get("manifest") or {}
    vector = str(manifest.get("pose_vector", "tha1"))
    splits = _published_splits(data)
    samples = int(index.get("samples", sum(int(s.get("samples", 0)) for s in splits.values())))
    license_id = _hub_license(records)
    header: dict[str, Any] = {
        "pretty_name": manifest.get("name") or "thagen synthetic Talking Head Anime dataset"
    }
    header["license"] = license_id
    if license_id == "other":
        header["license_name"] = "per-character-licenses"
        header["license_link"] = CREDITS
    header["tags"] = ["synthetic", "anime", "talking-head-anime", "thagen", "webdataset"]
    header["task_categories"] = ["image-to-image"]
    header["size_categories"] = [_size_category(samples)]
    header["configs"] = [
        {
            "config_name": "default",
            "data_files": [{"split": name, "path": f"{name}/*.tar"} for name in sorted(splits)],
        }
    ]
    tally = LicenseTally.of(r for r in records if r is not None)
    header["thagen"] = {
        "version": str(data.get("thagen_version", "")),
        "blender_version": str(data.get("blender_version", "")),
        "pose_vector": vector,
        "pose_parameters": list(pose_vector_def(vector).names),
        "image_size": manifest.get("image_size"),
        "characters": len(characters),
        "samples": samples,
        "splits": {name: dict(splits[name]) for name in sorted(splits)},
        "licenses": dict(sorted(tally.names.items())),
        "license_summary": tally.text(),
        "characters_without_license_record": sum(r is None for r in records),
        "models_excluded_by_license_filter": len((data.get("licenses") or {}).get("excluded") or []),
    }
    return header


def _credit_text(record: LicenseRecord | None) -> str:
    if record is None:
        return "unknown"
    text = {Credit.REQUIRED: "required", Credit.NOT_REQUIRED: "not required"}.get(record.credit, "unknown")
    return text + (" (CREDITS.md)" if record.credit_line else "")


def _character_rows(characters: Mapping[str, Any]) -> list[str]:
    fields = ("redistribution", "modification", "commercial")
    rows = [
        "| character | split | samples | source file | author | license | credit | "
        + " | ".join(fields)
        + " |",
        "|---|---|---:|---|---|---|---|" + "---|" * len(fields),
    ]
    for cid in sorted(characters):
        entry = characters[cid]
        record = _record(entry)
        split = f"{EXCLUDED}/{entry.get('split')}" if entry.get("excluded") else entry.get("split")
        perms = [getattr(record, f).value if record else Permission.UNKNOWN.value for f in fields]
        cells = [
            f"`{cid}`",
            _cell(split),
            str(entry.get("samples", 0)),
            _cell(entry.get("model_file")),
            _cell(record.author if record else None),
            _cell((record.license_name if record else None) or "unknown"),
            _cell(_credit_text(record)),
            *perms,
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def readme_text(data: Mapping[str, Any], index: Mapping[str, Any]) -> str:
    """The whole OUT/README.md."""
    header = front_matter(data, index)
    info = header["thagen"]
    characters: Mapping[str, Any] = data.get("characters") or {}
    lines = [
        "---",
        yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=120).rstrip(),
        "---",
        CARD_MARKER,
        "",
    ]
    lines += [
        f"# {header['pretty_name']}",
        "",
        f"Synthetic *Talking Head Anime* training data rendered by thagen {info['version']}"
        + (f" (Blender {info['blender_version']})" if info["blender_version"] else "")
        + f" from {info['characters']} character models: for each character a reset image (`rest.png`) "
        "and pose samples, each an expression-only image (`expr.png`) and an expression + rotation "
        "image (`rot.png`) labelled with its pose vector (`pose.json`), in WebDataset tar shards.",
        "",
        "## Licenses",
        "",
        "Each character's images stand under that character's own license, as its author stated it "
        "(the table below; the evidence for every field is in `dataset.yaml`). "
        f"Anything that publishes these images must carry the credit lines in [{CREDITS}]({CREDITS}).",
        "",
        f"{info['license_summary']}.",
    ]
    if info["models_excluded_by_license_filter"]:
        lines += [
            "",
            f"Models not rendered because of their licenses (the manifest's `licenses:` filter): "
            f"{info['models_excluded_by_license_filter']}, listed with the reasons in `dataset.yaml`.",
        ]
    lines += ["", "## Splits", "", "| split | characters | samples | images |", "|---|---:|---:|---:|"]
    for name, counts in info["splits"].items():
        lines.append(
            f"| {name} | {counts.get('characters', 0)} | {counts.get('samples', 0)} | {counts.get('images', 0)} |"
        )
    files = ", ".join(f'"{name}": "{name}/*.tar"' for name in info["splits"])
    lines += [
        "",
        "## Loading",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        f'ds = load_dataset("webdataset", data_files={{{files}}})',
        "```",
        "",
        "Each sample has `rest.png`, `expr.png`, `rot.png` (RGBA) and `pose.json` "
        f"(`pose`: the {info['pose_vector']} vector by name, `rest_pose`, `character`, `index`).",
        "",
        "## Pose vector",
        "",
        f"`{info['pose_vector']}`: " + ", ".join(f"`{name}`" for name in info["pose_parameters"]) + ".",
        "",
        "## Characters",
        "",
        *_character_rows(characters),
        "",
    ]
    return "\n".join(lines)


def credits_text(data: Mapping[str, Any]) -> str:
    """The whole OUT/CREDITS.md: every credit line verbatim, then who else made the characters."""
    characters: Mapping[str, Any] = data.get("characters") or {}
    by_line: dict[str, list[str]] = {}
    no_line: list[str] = []
    others: list[str] = []
    for cid in sorted(characters):
        entry = characters[cid]
        record = _record(entry)
        what = f"`{cid}` ({entry.get('model_file') or 'unknown file'}; {(record and record.license_name) or 'license unknown'})"
        if record is not None and record.credit_line:
            credit = (
                ""
                if record.credit is Credit.REQUIRED
                else f"; credit {record.credit.value.replace('_', ' ')}"
            )
            by_line.setdefault(record.credit_line, []).append(what + credit)
        elif record is not None and record.credit is Credit.REQUIRED:
            no_line.append(f"- {what}: credit the author, {record.author or 'named in the model files'}")
        else:
            author = record.author if record is not None and record.author else "unknown"
            others.append(f"- {what}: author {author}")
    lines = [
        CARD_MARKER,
        "# Credits",
        "",
        "The characters in this dataset were made by other people and keep their own licenses "
        f"(see {README}). Each credit line below is copied verbatim from the model's own terms "
        "(its readme, model comment or VRM meta): anything that publishes these images, or data "
        "made from them, must carry every line that applies to the characters it uses.",
        "",
        "## Credit lines",
        "",
    ]
    if not by_line:
        lines += ["No model gave a credit line.", ""]
    for line in sorted(by_line):
        lines += [*_fenced(line), "", "Used by: " + "; ".join(by_line[line]), ""]
    if no_line:
        lines += ["## Credit required, without a credit line", "", *no_line, ""]
    if others:
        lines += ["## Other characters", "", *others, ""]
    version = data.get("thagen_version", "")
    lines += [f"Rendered with thagen {version}.", ""]
    return "\n".join(lines)


def write_dataset_card(out: Path) -> None:
    """Write OUT/README.md and OUT/CREDITS.md (atomically) from OUT/dataset.yaml and index.json."""
    out = Path(out)
    data = yaml.safe_load((out / DATASET_YAML).read_text(encoding="utf-8")) or {}
    index = json.loads((out / INDEX_JSON).read_text(encoding="utf-8")) if (out / INDEX_JSON).is_file() else {}
    for name, text in ((README, readme_text(data, index)), (CREDITS, credits_text(data))):
        path = out / name
        if path.exists() and not is_thagen_card(path):
            path = out / f"DATASET_{name}"
            log.warning("%s: not thagen's dataset card, left as it is; the card is in %s", out / name, path)
        atomic_write_bytes(path, text.encode("utf-8"))
