"""THA2 / THA3 iris rotation: the eye bones' angle for +-1, calibrated from the eye geometry.

Not stated by THA2, which set +-1 per model by eye: here +-1 turns each eye bone by the angle
that moves the iris centre sideways by `iris_shift_fraction` (0.2) of that eye's width (the x
extent of its eye-close morph), computed from the eye bone's pivot and the iris vertices
weighted to it, so the iris moves the same fraction of the eye on every model. An override
file may give the angle instead (rigs/normalize/extended_override_apply.py calls `_calibrate`).
"""

from __future__ import annotations

import math

import numpy as np

from thagen.rigs.normalize.extended_finder import FinderBase
from thagen.rigs.normalize.extended_rig import ParamRole, iris_vertices


class IrisRotation(FinderBase):
    """`iris_rotation_x` / `iris_rotation_y`: derived from the eye bones, or missing."""

    def iris_rotation(self) -> None:
        names = [n for n in ("iris_rotation_x", "iris_rotation_y") if n not in self.params]
        if not names:  # both set by the override file
            return
        eyes = [self.norm.matches.get(r) for r in ("eye_left", "eye_right")]
        both = self.norm.matches.get("eyes")
        bones: list[str] = [m.name for m in eyes if m is not None and m.found and m.name]
        if len(bones) < 2 and both is not None and both.found and both.name:
            bones = [both.name]
        if not bones:
            for n in names:
                self.params[n] = ParamRole(n, "missing", "-", detail="no eye bones (左目 / 右目 or 両目)")
            return
        degrees, notes = [], []
        for bone in bones:
            deg, note = self._calibrate(bone)
            notes.append(note)
            if deg is None:
                for n in names:
                    self.params[n] = ParamRole(n, "missing", "-", bones=tuple(bones), detail=note)
                return
            degrees.append(deg)
        for n in names:
            self.params[n] = ParamRole(
                n,
                "derived",
                "calibrated",
                source=", ".join(bones),
                bones=tuple(bones),
                degrees=tuple(degrees),
                detail="; ".join(notes),
            )

    def _calibrate(
        self, bone: str, fraction: float | None = None, degrees: float | None = None
    ) -> tuple[float | None, str]:
        """The angle that moves the iris `fraction` (default iris_shift_fraction) of the eye's
        width; with `degrees` given (an override), that angle and how far it moves the iris."""
        model = self.model
        b = self.bone_index(bone)
        hit = (model.bone_indices == b) & (model.bone_weights > 0)
        weight = np.where(hit, model.bone_weights, 0.0).sum(axis=1)
        iris = weight >= 0.5
        if not np.any(iris):
            return None, f"{bone!r} carries no vertices"
        pivot = model.bones[b].position.astype(np.float64)
        all_pts = model.positions[iris].astype(np.float64)
        centre = 0.5 * (all_pts.min(axis=0) + all_pts.max(axis=0))
        side = "left" if centre[0] > self.norm.head.x else "right"
        width = self._eye_width(side, centre)
        if width is None:
            xs = model.positions[iris, 0]
            width = float(xs.max() - xs.min()) * (
                1.0 if len(set(np.sign(xs - self.norm.head.x))) > 1 else 1.5
            )
        front = iris_vertices(model, b, width)
        pts = model.positions[front].astype(np.float64)
        fraction = self.s.get("iris_shift_fraction", 0.2) if fraction is None else fraction
        target = fraction * width
        limit = self.s.get("iris_max_degrees", 40.0)
        arm = pts - pivot
        box_x = 0.5 * (pts[:, 0].min() + pts[:, 0].max())

        def shift(deg: float) -> float:
            """Mean sideways move of the iris's box centre (what the image shows) when the eye
            bone turns +-deg about the vertical axis through its joint."""
            moves = []
            for t in (math.radians(deg), -math.radians(deg)):
                x = pivot[0] + arm[:, 0] * math.cos(t) - arm[:, 2] * math.sin(t)
                moves.append(abs(0.5 * (x.min() + x.max()) - box_x))
            return 0.5 * sum(moves)

        if degrees is not None:
            moved = shift(degrees)
            self.iris_cal[bone] = {
                "degrees": degrees,
                "eye_width": width,
                "shift": moved,
                "side": side,
                "iris_vertices": int(len(front)),
            }
            return (
                degrees,
                f"{bone!r}: {degrees:g} deg given, moves the iris {moved / width:.2f} x eye width {width:.4f}",
            )
        if shift(limit) < target:
            return (
                None,
                f"{bone!r}: turning it {limit:g} deg moves the iris less than {target:.4f} (pivot at the iris)",
            )
        lo, hi = 0.0, limit
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if shift(mid) < target else (lo, mid)
        deg = 0.5 * (lo + hi)
        self.iris_cal[bone] = {
            "degrees": deg,
            "eye_width": width,
            "shift": target,
            "side": side,
            "iris_vertices": int(len(front)),
        }
        return (
            deg,
            f"{bone!r}: {deg:.2f} deg moves the iris {target:.4f} = {fraction:g} x eye width {width:.4f}",
        )

    def _eye_width(self, side: str, centre: np.ndarray) -> float | None:
        for role in (f"eye_close_{side}", "eye_close_both"):
            got = self._role_offsets(role)
            if got is None:
                continue
            idx = got[0]
            x = self.model.positions[idx, 0].astype(np.float64)
            x = x[(x > self.norm.head.x) == (side == "left")]
            if x.size:
                return float(x.max() - x.min())
        return None
