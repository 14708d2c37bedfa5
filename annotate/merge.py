"""Merging several annotators' `--annotations` folders into one.

A collection is often split between people, or annotated twice to check agreement. Each folder
holds `<id>.annotation.yaml` and `<id>.skip.yaml` files (docs/annotation.md). Per character:

- each folder's own answer is its later file (an accept after a skip, or a skip after an
  accept: the same rule the tool uses);
- a person's answer (`source: manual` or a skip) beats the estimate (`source: auto`);
- among answers of the same kind the newer (`created`, else the file's time) wins;
- two manual answers that disagree (points more than `tolerance` head heights apart, or a skip
  against an annotation) are a conflict: listed, and neither is written, so no person's answer
  is silently thrown away. The character stays to be decided (the tool shows it as `todo`).

Files already in the output folder count as one more input, so a merge into a folder that
already holds answers never loses them. Winners are copied byte for byte, atomically.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from thagen.annotate.tool.catalog import SKIP_SUFFIX
from thagen.errors import ConfigError
from thagen.render.framing.annotation_file import ANNOTATION_SUFFIX, Annotation, load_annotation

DEFAULT_TOLERANCE = 0.01  # of the head height: 2.4 px on the tool's 768 px front render


@dataclass
class Answer:
    """One folder's answer for one character: an annotation or a skip."""

    cid: str
    path: Path
    kind: str  # "manual", "auto" or "skip"
    when: dt.datetime
    annotation: Annotation | None = None
    reason: str = ""

    @property
    def by_person(self) -> bool:
        return self.kind != "auto"

    def describe(self) -> str:
        if self.annotation is None:
            return f"{self.path}: skipped ({self.reason})"
        a = self.annotation
        who = f" by {a.annotator}" if a.annotator else ""
        return f"{self.path}: {a.kind}{who}, head top y {a.head_top[1]:.4f}, chin y {a.chin[1]:.4f}"


@dataclass
class Conflict:
    cid: str
    answers: list[Answer]
    why: str

    def line(self) -> str:
        return f"{self.cid}: conflict: {self.why}: " + "; ".join(a.describe() for a in self.answers)


@dataclass
class MergeResult:
    written: dict[str, Answer] = field(default_factory=dict)  # id -> the winner copied to OUT
    conflicts: list[Conflict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # unreadable files (left out, one line each)


def _when(created: str, path: Path) -> dt.datetime:
    """`created`, else the file's modification time (always timezone-aware, so they compare)."""
    try:
        when = dt.datetime.fromisoformat(created) if created else None
    except ValueError:
        when = None
    if when is None:
        return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _skip_answer(cid: str, path: Path) -> Answer:
    from thagen.annotate.tool.store import _load_skip

    skip = _load_skip(path)
    return Answer(cid, path, "skip", _when(skip.created, path), reason=skip.reason)


def folder_answers(folder: Path, problems: list[str]) -> dict[str, Answer]:
    """id -> this folder's answer (the later of its annotation and skip)."""
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such annotations folder")
    found: dict[str, list[Answer]] = {}
    for path in sorted(folder.iterdir()):
        name = path.name
        try:
            if name.endswith(ANNOTATION_SUFFIX):
                cid = name[: -len(ANNOTATION_SUFFIX)]
                ann = load_annotation(path)
                answer = Answer(cid, path, ann.kind, _when(ann.created, path), annotation=ann)
            elif name.endswith(SKIP_SUFFIX):
                cid = name[: -len(SKIP_SUFFIX)]
                answer = _skip_answer(cid, path)
            else:
                continue
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        found.setdefault(cid, []).append(answer)
    return {cid: max(answers, key=lambda a: a.when) for cid, answers in found.items()}


def _disagreement(a: Answer, b: Answer, tolerance: float) -> str:
    """Why two answers by people disagree, or "" when they agree."""
    if (a.annotation is None) != (b.annotation is None):
        return "one skipped it, the other annotated it"
    if a.annotation is None or b.annotation is None:
        return ""  # two skips: the reason is no framing, the newer one is kept
    x, y = a.annotation, b.annotation
    height = max(x.head_top[1] - x.chin[1], y.head_top[1] - y.chin[1])
    gaps = {
        "head top": abs(x.head_top[1] - y.head_top[1]),
        "chin": abs(x.chin[1] - y.chin[1]),
        "centre": abs(x.effective_center_x - y.effective_center_x),
    }
    far = [f"{k} {100 * v / height:.1f}%" for k, v in gaps.items() if v > tolerance * height]
    if far:
        return f"more than {100 * tolerance:g}% of the head height apart ({', '.join(far)})"
    return ""


def decide(answers: list[Answer], tolerance: float) -> Answer | Conflict:
    """The winning answer among the folders', or the conflict between people."""
    people = [a for a in answers if a.by_person]
    if not people:
        return max(answers, key=lambda a: a.when)
    people.sort(key=lambda a: a.when)
    for i, a in enumerate(people):
        for b in people[i + 1 :]:
            why = _disagreement(a, b, tolerance)
            if why:
                return Conflict(a.cid, people, why)
    return people[-1]


def merge_folders(inputs: list[Path], out: Path, tolerance: float = DEFAULT_TOLERANCE) -> MergeResult:
    """Merge the folders into `out` (which may be one of them, or already hold answers)."""
    from thagen.files import atomic_write_bytes

    if not tolerance >= 0:
        raise ConfigError(f"--tolerance: expected a fraction of the head height >= 0, got {tolerance!r}")
    result = MergeResult()
    folders = list(dict.fromkeys(Path(p).resolve() for p in inputs))
    out = Path(out).resolve()
    if out.is_dir() and out not in folders:
        folders.append(out)  # what OUT already holds is one more answer, never overwritten blindly
    by_id: dict[str, list[Answer]] = {}
    for folder in folders:
        for cid, answer in folder_answers(folder, result.problems).items():
            by_id.setdefault(cid, []).append(answer)
    out.mkdir(parents=True, exist_ok=True)
    for cid in sorted(by_id):
        won = decide(by_id[cid], tolerance)
        if isinstance(won, Conflict):
            result.conflicts.append(won)
            continue
        suffix = SKIP_SUFFIX if won.kind == "skip" else ANNOTATION_SUFFIX
        other = ANNOTATION_SUFFIX if won.kind == "skip" else SKIP_SUFFIX
        target = out / f"{cid}{suffix}"
        if won.path.resolve() != target:
            atomic_write_bytes(target, won.path.read_bytes())
        (out / f"{cid}{other}").unlink(missing_ok=True)  # the answer it replaces
        result.written[cid] = won
    return result
