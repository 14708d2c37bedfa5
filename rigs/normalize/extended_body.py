"""THA2 / THA3 body parameters: `body_y` / `body_z` (the upper-body bone) and `breathing`.

Body turns are `exact` on the upper-body bone; breathing is a motion thagen makes (`derived`):
the chest bone (upper body 2, else upper body) lifts and the shoulders rise, so the role
records every bone that motion uses, "" where the model has none.
"""

from __future__ import annotations

from thagen.rigs.normalize.extended_finder import FinderBase
from thagen.rigs.normalize.extended_rig import ParamRole


class BodyParams(FinderBase):
    """The body's rotation and breathing parameters."""

    def body(self) -> None:
        upper = self.bone("upper_body")
        upper2 = self.bone("upper_body2")
        for n in ("body_y", "body_z"):
            if n in self.params:  # set by the override file
                continue
            if upper is None:
                self.params[n] = ParamRole(n, "missing", "-", detail="no upper-body bone (上半身)")
            else:
                follow = f"; {upper2!r} follows as its child" if upper2 else ""
                self.params[n] = ParamRole(
                    n, "exact", "bone", source=upper, bones=(upper,), detail=f"rotates {upper!r}{follow}"
                )
        chest = upper2 or upper
        if "breathing" in self.params:
            return
        if chest is None:
            self.params["breathing"] = ParamRole("breathing", "missing", "-", detail="no upper-body bone")
            return
        # bones: (chest, left shoulder, right shoulder, left arm, right arm); "" where absent
        limbs = tuple(
            self.bone(r) or "" for r in ("shoulder_left", "shoulder_right", "arm_left", "arm_right")
        )
        shoulders = [b for b in limbs[:2] if b]
        self.params["breathing"] = ParamRole(
            "breathing",
            "derived",
            "thagen motion",
            source=chest,
            bones=(chest, *limbs),
            detail=f"chest {chest!r} lifts"
            + (f", shoulders {', '.join(shoulders)} rise" if shoulders else " (no shoulder bones)"),
        )
