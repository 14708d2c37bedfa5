"""A VRM's own evidence for thagen's roles: humanoid bones and expression presets first.

`with_model_hints` returns the role table with, for each role, the names this model's VRM data
points at put in front: the humanoid map's bone (head, neck, leftEye, rightEye, ...), the
expression preset's morph (blink, blinkLeft, blinkRight, aa), then ARKit "perfect sync" names
(eyeBlinkLeft, jawOpen, ...), then the table's own names. Rig normalization then runs as for
any PMX: a named morph must still visibly move the head, and one-eye closes still get their
side from geometry, so a file whose blinkLeft closes the right eye is reported, not trusted.
"""

from __future__ import annotations

from dataclasses import replace

from thagen.rigs.model import Model
from thagen.rigs.normalize.roles import RoleTable

# thagen role -> VRM 1.0 humanoid bone keys, most specific first
ROLE_BONES: dict[str, tuple[str, ...]] = {
    "head": ("head",),
    "neck": ("neck",),
    "eye_left": ("leftEye",),
    "eye_right": ("rightEye",),
    "upper_body": ("upperChest", "chest", "spine"),
}
# thagen role -> VRM 1.0 expression presets (0.x presets are mapped to these when read)
ROLE_PRESETS: dict[str, tuple[str, ...]] = {
    "eye_close_both": ("blink",),
    "eye_close_left": ("blinkLeft",),
    "eye_close_right": ("blinkRight",),
    "mouth_open": ("aa",),
}
# ARKit blend shapes as VRChat / VRoid "perfect sync" models name them
ROLE_ARKIT: dict[str, tuple[str, ...]] = {
    "eye_close_left": ("eyeBlinkLeft", "EyeBlinkLeft"),
    "eye_close_right": ("eyeBlinkRight", "EyeBlinkRight"),
    "mouth_open": ("jawOpen", "JawOpen"),
}


def model_hints(model: Model) -> dict[str, list[str]]:
    """Role -> the names this model's VRM data gives for it (empty for PMX / PMD)."""
    info = model.vrm
    if info is None:
        return {}
    hints: dict[str, list[str]] = {}
    for role, keys in ROLE_BONES.items():
        for key in keys:
            index = info.humanoid.get(key)
            if index is not None and 0 <= index < len(model.bones):
                hints.setdefault(role, []).append(model.bones[index].name)
                break
    for role, presets in ROLE_PRESETS.items():
        for preset in presets:
            expr = info.expression(preset)
            if expr is not None:
                hints.setdefault(role, []).append(model.morphs[expr.morph].name)
    for role, names in ROLE_ARKIT.items():
        hints.setdefault(role, []).extend(names)
    return hints


def with_model_hints(table: RoleTable, model: Model) -> RoleTable:
    """`table` with each role's VRM hints put in front of its names (the same table for PMX / PMD)."""
    hints = model_hints(model)
    if not hints:
        return table
    pooled: dict[str, list[str]] = {}  # one-eye closes share candidates; geometry picks the side
    for key, spec in table.roles.items():
        if spec.pool is not None:
            pooled.setdefault(spec.pool, []).extend(hints.get(key, []))
    roles = {}
    for key, spec in table.roles.items():
        front = pooled[spec.pool] if spec.pool is not None else hints.get(key, [])
        front = list(dict.fromkeys(front))
        if front:
            spec = replace(spec, names=tuple(front) + tuple(n for n in spec.names if n not in front))
        roles[key] = spec
    return replace(table, roles=roles)
