"""The `params` section of a rig override file: a person's word on THA2 / THA3 parameters.

Automatic finding (rigs/normalize/extended_roles.py) guesses from names and geometry; when it guesses
wrong, or a model names a shape so that no table knows it, one line in the override file fixes
that parameter for that model (schema in docs/overrides.md). Parsing checks the shape of every
entry against the vectors' parameter names (no model needed); `resolve_*` then checks names
against the model when the rig is built. Every mistake is a ConfigError whose message starts
with `FILE:LINE: params.NAME:`, since a silently ignored override would make a wrong dataset.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from thagen.errors import ConfigError
from thagen.rigs.model import Bone, Model, Morph
from thagen.rigs.normalize.roles import fold_name

if TYPE_CHECKING:
    from thagen.pose_vectors import Param

MISSING_WORDS = ("missing", "absent")
# THA1's parameters come from THA1's roles; their override lives under `roles`
THA1_ROLE_OF = {
    "eye_wink_left": "eye_close_left",
    "eye_wink_right": "eye_close_right",
    "mouth_aaa": "mouth_open",
    "head_x": "head",
    "head_y": "head",
    "neck_z": "neck",
}
# parameters whose bones the renderer takes from the first of the pair (render/poses/vector_posing.py)
SHARED_BONES = {"iris_rotation_y": "iris_rotation_x", "body_z": "body_y"}
KEYS_BY_KIND = {
    "morph": ("morph", "split", "missing"),
    "iris": ("bones", "degrees", "shift_fraction", "missing"),
    "body": ("bone", "missing"),
    "breathing": ("chest", "shoulders", "arms", "missing"),
}
HELP_BY_KIND = {
    "morph": "{morph: NAME or INDEX}, {split: NAME or INDEX} (per-side parameters) or 'missing'",
    "iris": "{bones: [LEFT_EYE, RIGHT_EYE] or [BOTH_EYES], degrees: ANGLE, shift_fraction: F} or 'missing'",
    "body": "{bone: UPPER_BODY} or 'missing'",
    "breathing": "{chest: BONE, shoulders: [LEFT, RIGHT], arms: [LEFT, RIGHT]} or 'missing'",
}


@dataclass(frozen=True)
class ParamOverride:
    """One parameter's override, checked for shape (names are checked against the model later).

    action: "missing"; "morph" / "split" (morph: a name or an index); "iris" (bones, and
    degrees or shift_fraction, each optional); "body" (bones[0]); "breathing" (bones: chest,
    then shoulders and arms, "" where the file leaves them to automatic finding).
    """

    param: str
    action: str
    where: str  # "FILE:LINE: params.NAME", the prefix of every message about this entry
    morph: str | int | None = None
    bones: tuple[str, ...] = ()
    degrees: tuple[float, ...] = ()
    shift_fraction: float | None = None


def _kind(param: Param) -> str:
    if param.is_morph:
        return "morph"
    if param.group == "iris_rotation":
        return "iris"
    if param.group == "body_rotation":
        return "body"
    return "breathing"


def _all_params() -> dict[str, Param]:
    from thagen.pose_vectors import pose_vector_def

    return {p.name: p for p in pose_vector_def("tha3").params}


def _names(value: object, where: str, key: str, count: tuple[int, ...]) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if (
        not isinstance(items, list)
        or len(items) not in count
        or not all(isinstance(v, str) and v.strip() for v in items)
    ):
        want = " or ".join(str(n) for n in count)
        raise ConfigError(f"{where}: {key}: expected a list of {want} bone name(s), got {value!r}")
    return tuple(items)


def _morph_ref(value: object, where: str, key: str) -> str | int:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError(f"{where}: {key}: expected a morph name or index, got {value!r}")
    if isinstance(value, int) and value < 0:
        raise ConfigError(f"{where}: {key}: a morph index is 0 or more, got {value}")
    if isinstance(value, str) and not value.strip():
        raise ConfigError(f"{where}: {key}: empty morph name")
    return value


def _number(value: object, where: str, key: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value <= high:
        raise ConfigError(f"{where}: {key}: expected a number in ({low:g}, {high:g}], got {value!r}")
    return float(value)


def parse_param(name: str, value: object, where: str) -> ParamOverride:
    """One `params` entry: NAME: 'missing' | a string (morph / bone) | an int (morph index) | a mapping."""
    params = _all_params()
    if name not in params:
        close = difflib.get_close_matches(name, list(params), n=1)
        hint = f" (did you mean {close[0]}?)" if close else " (names: docs/dataset-format.md)"
        raise ConfigError(f"{where}: unknown parameter{hint}")
    if name in THA1_ROLE_OF:
        raise ConfigError(
            f"{where}: comes from THA1's role {THA1_ROLE_OF[name]!r}; override it under roles: "
            f"({THA1_ROLE_OF[name]}: NAME)"
        )
    param = params[name]
    kind = _kind(param)
    if value is None:
        raise ConfigError(f"{where}: empty value; expected {HELP_BY_KIND[kind]}")
    if isinstance(value, str) and value in MISSING_WORDS:
        return ParamOverride(name, "missing", where)
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        short = {"morph": "morph", "iris": "bones", "body": "bone", "breathing": "chest"}[kind]
        value = {short: value}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected {HELP_BY_KIND[kind]}, got {type(value).__name__}")
    keys = set(map(str, value))
    allowed = KEYS_BY_KIND[kind]
    wrong = sorted(keys - set(allowed))
    if wrong:
        raise ConfigError(
            f"{where}: {', '.join(wrong)} does not apply to this {kind} parameter; expected {HELP_BY_KIND[kind]}"
        )
    if "missing" in keys:
        if value["missing"] is not True or len(keys) > 1:
            raise ConfigError(f"{where}: write 'missing' or {{missing: true}} alone")
        return ParamOverride(name, "missing", where)
    if kind == "morph":
        if len(keys) != 1:
            raise ConfigError(f"{where}: give exactly one of morph or split, got {sorted(keys) or 'none'}")
        action = next(iter(keys))
        if action == "split" and param.side is None:
            raise ConfigError(f"{where}: split only applies to per-side (_left / _right) parameters")
        return ParamOverride(name, action, where, morph=_morph_ref(value[action], where, action))
    if kind == "iris":
        if "degrees" in keys and "shift_fraction" in keys:
            raise ConfigError(f"{where}: give degrees (an angle) or shift_fraction (a calibration), not both")
        bones = _names(value["bones"], where, "bones", (1, 2)) if "bones" in keys else ()
        degrees = value.get("degrees")
        if isinstance(degrees, list):
            if not bones or len(degrees) != len(bones):
                raise ConfigError(f"{where}: degrees: a list needs bones with one angle per bone")
            angles = tuple(_number(d, where, "degrees", 0.0, 90.0) for d in degrees)
        else:
            angles = (_number(degrees, where, "degrees", 0.0, 90.0),) if degrees is not None else ()
        shift = value.get("shift_fraction")
        fraction = _number(shift, where, "shift_fraction", 0.0, 1.0) if shift is not None else None
        if not keys:
            raise ConfigError(f"{where}: empty mapping; expected {HELP_BY_KIND[kind]}")
        return ParamOverride(name, "iris", where, bones=bones, degrees=angles, shift_fraction=fraction)
    if kind == "body":
        return ParamOverride(name, "body", where, bones=_names(value.get("bone"), where, "bone", (1,)))
    if not keys:
        raise ConfigError(f"{where}: empty mapping; expected {HELP_BY_KIND[kind]}")
    chest = _names(value["chest"], where, "chest", (1,)) if "chest" in keys else ("",)
    shoulders = _names(value["shoulders"], where, "shoulders", (2,)) if "shoulders" in keys else ("", "")
    arms = _names(value["arms"], where, "arms", (2,)) if "arms" in keys else ("", "")
    return ParamOverride(name, "breathing", where, bones=chest + shoulders + arms)


def parse_params(data: object, source: str, lines: dict[str, int]) -> dict[str, ParamOverride]:
    """The `params` section; `lines` gives each key's line in the file (1-based), if known."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}:{lines.get('', '?')}: params: expected a mapping of parameter -> override, "
            f"got {type(data).__name__}"
        )
    out = {}
    for key, value in data.items():
        line = lines.get(str(key))
        where = f"{source}:{line}: params.{key}" if line else f"{source}: params.{key}"
        out[str(key)] = parse_param(str(key), value, where)
    _check_shared(out)
    return out


def _check_shared(entries: dict[str, ParamOverride]) -> None:
    """iris_rotation_x / _y turn the same eye bones and body_y / _z the same upper body: the
    renderer takes the bones and angle of the first for both, so the two may not disagree."""
    for second, first in SHARED_BONES.items():
        a, b = entries.get(first), entries.get(second)
        if b is None:
            continue
        if a is not None and a.action == "missing" and b.action != "missing":
            raise ConfigError(
                f"{a.where}: cannot be missing while {second} is not: both turn the bones found for {first}"
            )
        if a is None and b.action == "missing":
            continue
        if a is not None and b.action != "missing" and a.action != "missing" and a != _as(b, a):
            raise ConfigError(
                f"{b.where}: differs from {first}'s override; both turn the same bones, give it once (on {first})"
            )


def _as(entry: ParamOverride, other: ParamOverride) -> ParamOverride:
    return ParamOverride(
        other.param, entry.action, other.where, entry.morph, entry.bones, entry.degrees, entry.shift_fraction
    )


def effective(entries: dict[str, ParamOverride], name: str) -> ParamOverride | None:
    """The override that applies to parameter `name`: its own, or its pair's shared bones."""
    own = entries.get(name)
    if own is not None:
        return own
    first = SHARED_BONES.get(name)
    shared = entries.get(first) if first else None
    if shared is not None and shared.action != "missing":
        return shared
    second = next((s for s, f in SHARED_BONES.items() if f == name), None)
    shared = entries.get(second) if second else None
    if shared is not None and shared.action != "missing":
        return shared
    return None


def resolve_morph(model: Model, entry: ParamOverride) -> int:
    """Index of the morph an override names: an index, the exact name, or a unique folded match."""
    ref = entry.morph
    assert ref is not None
    key = entry.action
    if isinstance(ref, int):
        if ref >= len(model.morphs):
            raise ConfigError(
                f"{entry.where}: {key}: morph index {ref} is out of range (the model has {len(model.morphs)} morphs)"
            )
        return ref
    return _resolve(model, ref, "morph", entry.where, key)


def resolve_bone(model: Model, name: str, entry: ParamOverride, key: str) -> str:
    """The model's exact name for a bone an override names."""
    return model.bones[_resolve(model, name, "bone", entry.where, key)].name


def _resolve(model: Model, name: str, kind: str, where: str, key: str) -> int:
    items: Sequence[Bone | Morph] = model.bones if kind == "bone" else model.morphs
    exact = [i for i, item in enumerate(items) if item.name == name]
    if exact:
        return exact[0]
    fold = fold_name(name)
    folded = [i for i, item in enumerate(items) if fold_name(item.name) == fold]
    if len(folded) == 1:
        return folded[0]
    if folded:
        names = ", ".join(repr(items[i].name) for i in folded)
        raise ConfigError(f"{where}: {key}: {name!r} matches several {kind}s ({names}); give the exact name")
    other: Sequence[Bone | Morph]
    other, other_kind = (model.morphs, "morph") if kind == "bone" else (model.bones, "bone")
    if any(item.name == name or fold_name(item.name) == fold for item in other):
        raise ConfigError(f"{where}: {key}: {name!r} is a {other_kind} in the model, but this needs a {kind}")
    raise ConfigError(f"{where}: {key}: no {kind} named {name!r} in the model")


def key_lines(text: str) -> dict[str, dict[str, int]]:
    """Section ('roles' / 'params') -> key -> its 1-based line; '' -> the section's own line.
    Best effort: an unparsable document gives {} (the YAML error is reported elsewhere)."""
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    out: dict[str, dict[str, int]] = {}
    if not isinstance(root, yaml.MappingNode):
        return out
    for key_node, value_node in root.value:
        section = {"": key_node.start_mark.line + 1}
        if isinstance(value_node, yaml.MappingNode):
            for k, _v in value_node.value:
                section[str(k.value)] = k.start_mark.line + 1
        out[str(key_node.value)] = section
    return out
