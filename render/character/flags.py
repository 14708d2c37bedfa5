"""The one table of QA flags: which are hard (the character is held back) and which are soft.

A render farm runs unattended over thousands of models, so nobody looks at every contact
sheet before the trainer reads the shards. A *hard* flag means the samples would teach the
networks something wrong (a head framed off, a mouth or eye morph that changes nothing, a face
without its textures, a framing nobody confirmed that the estimate itself doubts): such a
character is still rendered and journalled, but its shards go to OUT/excluded/<split>/ (held
back) until someone fixes the cause and runs `thagen render MANIFEST --redo flagged`. A *soft*
flag is worth a look but the samples are still right, so it is only listed.

docs/rendering.md ("QA") shows this table; `tests/render/test_hold_back.py` checks they agree.
A flag missing from the table counts as hard: an unknown problem must not reach training
data silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# An estimate (no annotation file) below this confidence (render/framing/confidence.py) is not
# trusted for training data until a person confirms or corrects it. The built-in character
# scores 0.9 and Gene 0.7 (its hair loop); one serious doubt (no mouth morph, head not
# skinned: penalty 0.5) on an otherwise clean model lands exactly on 0.5 and is kept, two
# doubts together fall below it.
FRAMING_CONFIDENCE_THRESHOLD = 0.5
FRAMING_UNCONFIRMED = "framing_unconfirmed"

ANNOTATE = "correct the head top / chin (and centre line) in `thagen annotate serve --qa OUT`"
OVERRIDE = "name the right morph or bone in a rig override (docs/overrides.md)"


@dataclass(frozen=True)
class Flag:
    """One QA flag: hard or soft, what it means, how to fix it, and who computes it."""

    name: str
    hard: bool
    reason: str
    fix: str
    rechecked: bool = True  # recomputed from OUT by `thagen qa` (else carried over from qa.json)


FLAGS: dict[str, Flag] = {
    f.name: f
    for f in (
        Flag(
            "texture_missing_head",
            True,
            "a face, eye or hair texture is missing (or missing textures cover much of the head): "
            "the head renders in flat colours",
            "put the texture files where the model expects them (`thagen inspect MODEL` lists them)",
        ),
        Flag(
            "texture_missing",
            False,
            "a texture of the body or clothes is missing (the head is complete)",
            "put the texture files where the model expects them",
        ),
        Flag(
            "alpha_coverage_low",
            True,
            "almost nothing is opaque in the reset image: the character is not in the picture",
            ANNOTATE,
        ),
        Flag(
            "alpha_coverage_high",
            True,
            "the reset image is almost all opaque: framed far too close, or a backdrop mesh",
            ANNOTATE + "; a backdrop or stage mesh has to be removed from the model",
        ),
        Flag(
            "head_top_too_low",
            True,
            "the head starts well below the framed head-top row: the framing is too low or too small",
            ANNOTATE,
        ),
        Flag(
            "head_top_off",
            True,
            "the head's wide part is far from the framed head-top row",
            ANNOTATE,
        ),
        Flag(
            "chin_row_empty",
            True,
            "nothing is opaque on the chin row: the head is framed too high or too small",
            ANNOTATE,
        ),
        Flag(
            "head_off_center",
            True,
            "the head is not centred between the head-top and chin rows",
            ANNOTATE,
        ),
        Flag(
            "eyes_no_change",
            True,
            "closing the eyes changes nothing around the eyes: a wrong or empty blink morph",
            OVERRIDE,
        ),
        Flag(
            "mouth_no_change",
            True,
            "closing the mouth changes nothing around the mouth: a wrong or empty mouth morph",
            OVERRIDE,
        ),
        Flag(
            "rotation_no_change",
            True,
            "turning the head changes nothing: the head or neck bone carries no vertices",
            OVERRIDE,
        ),
        Flag(
            FRAMING_UNCONFIRMED,
            True,
            f"nobody annotated the head top / chin and the estimate's confidence is below "
            f"{FRAMING_CONFIDENCE_THRESHOLD}",
            ANNOTATE + " (accepting the suggestion confirms it)",
            rechecked=False,
        ),
        Flag(
            "eyes_change_outside_region",
            False,
            "closing the eyes also changes pixels away from the eyes (brows, tears, a blush)",
            "look at the contact sheet; " + OVERRIDE + " if the wrong morph was chosen",
        ),
        Flag(
            "mouth_change_outside_region",
            False,
            "closing the mouth also changes pixels away from the mouth",
            "look at the contact sheet; " + OVERRIDE + " if the wrong morph was chosen",
        ),
        Flag(
            "rest_images_differ",
            True,
            "`thagen qa OUT`: the samples of the character carry different reset images",
            "render it again: `thagen render MANIFEST --redo ID`",
        ),
        Flag(
            "shard_problems",
            True,
            "`thagen qa OUT`: a shard is unreadable or holds the wrong samples",
            "render it again: `thagen render MANIFEST --redo ID`",
        ),
        Flag(
            "no_images",
            True,
            "`thagen qa OUT`: no reset image was found for the character",
            "render it again: `thagen render MANIFEST --redo ID`",
        ),
    )
}


def flag_info(name: str) -> Flag:
    """The table's entry; a flag it does not know is hard (see the module docstring)."""
    known = FLAGS.get(name)
    if known is not None:
        return known
    return Flag(name, True, "a QA flag this version of thagen does not describe", "look at the contact sheet")


def is_hard(name: str) -> bool:
    return flag_info(name).hard


def hard_flags(flags: Iterable[str]) -> list[str]:
    """The hard ones of `flags`, in their order."""
    return [f for f in flags if is_hard(f)]


def soft_flags(flags: Iterable[str]) -> list[str]:
    return [f for f in flags if not is_hard(f)]


def held_back(flags: Iterable[str], exclude_flagged: bool) -> bool:
    """Whether a character with these QA flags goes to OUT/excluded/ (the manifest's
    `qa: {exclude_flagged: false}` turns holding back off; soft flags never hold back)."""
    return exclude_flagged and bool(hard_flags(flags))


def record_flags(record: Mapping[str, Any]) -> list[str]:
    """The QA flags of a journal line (`qa.flags`), tolerating damaged or old lines."""
    qa = record.get("qa")
    flags = qa.get("flags") if isinstance(qa, Mapping) else None
    return [f for f in flags if isinstance(f, str)] if isinstance(flags, list) else []


def flag_detail(name: str, metrics: Mapping[str, Any] | None = None) -> str:
    """Why this character got the flag, in words: the table's reason plus what was measured
    where that says more (the estimate's confidence and its reasons)."""
    info = flag_info(name)
    metrics = metrics or {}
    if name == FRAMING_UNCONFIRMED and isinstance(metrics.get("framing_confidence"), (int, float)):
        why = metrics.get("framing_confidence_reasons")
        reasons = "; ".join(str(r) for r in why) if isinstance(why, list) and why else ""
        return (
            f"the estimate's confidence is {float(metrics['framing_confidence']):.2f} "
            f"(below {FRAMING_CONFIDENCE_THRESHOLD})" + (f": {reasons}" if reasons else "")
        )
    files = metrics.get("texture_missing_files")
    if name.startswith("texture_missing") and isinstance(files, list) and files:
        return f"{info.reason} (missing: {', '.join(str(f) for f in files[:5])}{', ...' if len(files) > 5 else ''})"
    if name.startswith("alpha_coverage") and isinstance(metrics.get("alpha_coverage"), (int, float)):
        return f"{info.reason} (opaque share {float(metrics['alpha_coverage']):.0%})"
    return info.reason


def markdown_table() -> str:
    """The table as docs/rendering.md shows it (a test keeps the two in step)."""
    lines = ["| flag | hard / soft | what it means | how to fix it |", "|---|---|---|---|"]
    for f in FLAGS.values():
        lines.append(f"| `{f.name}` | {'hard' if f.hard else 'soft'} | {f.reason} | {f.fix} |")
    return "\n".join(lines)


def carried_flags(saved: Iterable[str]) -> list[str]:
    """Flags `thagen qa OUT` cannot recompute from the output (render-time ones, and any this
    version does not know): kept from the render's qa.json so a recheck never drops them."""
    return [f for f in saved if f not in FLAGS or not FLAGS[f].rechecked]
