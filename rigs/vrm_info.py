"""What a VRM file says beyond the geometry `Model` holds: humanoid map, expressions, MToon.

Kept on `Model.vrm` (None for PMX/PMD) so role finding, inspect and the renderer can use the
file's own evidence (a humanoid "head" bone, a "blink" preset) before any name table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(eq=False)
class VrmExpression:
    """One VRM 0.x blend-shape group or VRM 1.0 expression, as a VERTEX morph of `Model.morphs`."""

    name: str  # the Model morph's name
    preset: str  # VRM 1.0 preset key ("blink", "aa", ...), VRM 0.x presets mapped to it; "" if custom
    morph: int  # index into Model.morphs (-1 if it binds no morph target)
    is_binary: bool = False
    material_binds: int = 0  # listed, not applied
    texture_transform_binds: int = 0  # listed, not applied
    overrides: dict[str, str] = field(default_factory=dict)  # VRM 1.0 overrideBlink / LookAt / Mouth

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VrmExpression) and vars(self) == vars(other)


@dataclass(eq=False)
class VrmMaterial:
    """glTF / MToon facts per Model material that Material has no field for."""

    alpha_mode: str = "OPAQUE"  # OPAQUE, MASK, BLEND
    alpha_cutoff: float = 0.5
    shader: str = ""  # "MToon" when the material is MToon
    shade_color: np.ndarray | None = None  # MToon shade colour (RGB, linear)
    shading_toony: float | None = None
    shading_shift: float | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VrmMaterial):
            return False
        a, b = vars(self), vars(other)
        return all(
            np.allclose(a[k], b[k])
            if isinstance(a[k], np.ndarray) and isinstance(b[k], np.ndarray)
            else a[k] == b[k]
            for k in a
        )


@dataclass(eq=False)
class VrmInfo:
    """The VRM-specific facts of a model read from a .vrm / .glb / .gltf."""

    spec_version: str  # "0.x", "1.0" or "" (plain glTF, no VRM extension)
    humanoid: dict[str, int] = field(default_factory=dict)  # VRM 1.0 bone key -> Model bone index
    expressions: list[VrmExpression] = field(default_factory=list)
    materials: list[VrmMaterial] = field(default_factory=list)  # parallel to Model.materials
    embedded_images: dict[str, bytes] = field(default_factory=dict)  # Model.textures entry -> bytes
    title: str = ""
    authors: list[str] = field(default_factory=list)
    # the file's meta object as written (VRM 0.x `VRM.meta`, 1.0 `VRMC_vrm.meta`): its license
    # keys are read by rigs/licenses/, which needs the raw values, not a summary of them
    meta: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what was read but not applied

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VrmInfo):
            return False
        return all(getattr(self, k) == getattr(other, k) for k in vars(self))

    __hash__ = None  # type: ignore[assignment]

    def expression(self, preset: str) -> VrmExpression | None:
        for expr in self.expressions:
            if expr.preset == preset and expr.morph >= 0:
                return expr
        return None

    @property
    def binary_expressions(self) -> list[str]:
        return [e.name for e in self.expressions if e.is_binary]
