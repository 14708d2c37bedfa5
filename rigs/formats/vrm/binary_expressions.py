"""Binary VRM expressions (`isBinary`): the pose parameters they drive snap to 0 or 1.

A VRM runtime shows a binary expression fully on at weight > 0.5 and off otherwise, and some
avatars are built for exactly that (a blink drawn as a swapped texture-like shape). Rendering
such a morph at 0.3 would show a shape the avatar never shows, and labelling it 0.3 would
teach the network a state it cannot see, so for such a character the renderer snaps the
parameter before it renders and records the pose: left_eye / right_eye / mouth -> 0.0 or 1.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from thagen.rigs.model import Model

# pose parameter -> the morph role that shows it
PARAMETER_ROLES = {"left_eye": "eye_close_left", "right_eye": "eye_close_right", "mouth": "mouth_open"}
THRESHOLD = 0.5


class _RoleMatch(Protocol):
    """What is read of a filled role (rigs/normalize/report.py's RoleMatch)."""

    @property
    def name(self) -> str | None: ...

    @property
    def found(self) -> bool: ...


class RigRoles(Protocol):
    """What is read of a model's rig: rigs/normalize/report.py's RigReport, which this layer
    (formats, below normalize) may not import."""

    @property
    def matches(self) -> Mapping[str, _RoleMatch]: ...

    @property
    def synthetic_morphs(self) -> Mapping[str, object]: ...

    def morph_for(self, role: str) -> str | None: ...


def binary_parameters(model: Model, rig: RigRoles | None) -> list[str]:
    """Pose parameters of `model` driven by a binary expression (a blink split in two counts too)."""
    if model.vrm is None or rig is None:
        return []
    binary = set(model.vrm.binary_expressions)
    if not binary:
        return []
    blink = rig.matches.get("eye_close_both")
    blink_binary = blink is not None and blink.found and blink.name in binary
    out = []
    for parameter, role in PARAMETER_ROLES.items():
        name = rig.morph_for(role)
        if name in binary or (role in rig.synthetic_morphs and blink_binary):
            out.append(parameter)
    return out


def snap_pose(pose: Mapping[str, float], parameters: list[str]) -> dict[str, float]:
    """`pose` with each of `parameters` snapped to 0.0 or 1.0 (at THRESHOLD, as VRM runtimes do)."""
    return {k: (1.0 if v > THRESHOLD else 0.0) if k in parameters else float(v) for k, v in pose.items()}
