"""The built-in character's THA2 expression morphs, so tests know the truth for every parameter.

Only morphs are added (appended after THA1's), never geometry, so THA1 renders of the built-in
character are unchanged: THA1 drives only its own morphs, and only driven morphs are imported.

The names are spread over the spellings rig normalization must read, one per semantic:

============================ =========================== ===================================
parameter                    morph(s)                    spelling
============================ =========================== ===================================
eyebrow_troubled_*           困る左 / 困る右             MMD, per side
eyebrow_angry_*              angry_L / angry_R           English, per side
eyebrow_lowered_*            browDownLeft / ...Right     ARKit, per side
eyebrow_raised_*             browOuterUpLeft / ...Right  ARKit, per side
eyebrow_happy_*              happy brow_L / _R           English, per side
eyebrow_serious_*            真面目                      MMD, BOTH SIDES ONLY (split)
eye_wink_*                   ウィンク２ / ｳｨﾝｸ２右       THA1's normal closes
eye_happy_wink_*             ウィンク / ウィンク右       THA1's smile winks
eye_surprised_*              eyeWideLeft / ...Right      ARKit
eye_relaxed_*                なごみ左 / なごみ右         MMD
eye_unimpressed_*            unimpressed_L / _R          English
eye_raised_lower_eyelid_*    下瞼上げ左 / 下瞼上げ右     MMD
iris_small_*                 瞳小左 / 瞳小右             MMD
mouth_aaa .. mouth_ooo       あ い う え お              THA1's vowels
mouth_delta                  (none)                      MISSING on purpose
mouth_lowered_corner_*       mouthFrownLeft / ...Right   ARKit
mouth_raised_corner_*        mouth corner up_L / _R      English
mouth_smirk                  はんっ！                    MMD
============================ =========================== ===================================

The character has no separate eyebrow mesh (its bangs cover the brow line, as on many anime
models), so the eyebrow morphs shape the skin of the brow band above each eye: they lift it
toward the camera (through the bangs' gaps) and move it up or down, which changes the image
above that eye only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

BROW_Y = 16.66  # centre of the brow band (eye top at about 16.5, bangs from 16.56)
BROW_RX, BROW_RY = 0.42, 0.16
BROW_PUSH = 0.2  # toward the camera (MMD -Z), at the band's centre


def _bump(pos: np.ndarray, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    d = ((pos[:, 0] - cx) / rx) ** 2 + ((pos[:, 1] - cy) / ry) ** 2
    return np.clip(1.0 - d, 0.0, None) ** 2


def _brow(pos: np.ndarray, side: float, shape: str, eye_x: float) -> np.ndarray:
    """Offsets of the face vertices for one brow shape on one side (+1 left, -1 right)."""
    w = _bump(pos, side * eye_x, BROW_Y, BROW_RX, BROW_RY)
    inner = np.clip(1.0 - (side * pos[:, 0]) / (2 * eye_x), 0.0, 1.0)  # 1 at the mid-line
    u = (side * pos[:, 0] - eye_x) / BROW_RX
    dy = {
        "troubled": 0.1 * inner,
        "angry": -0.1 * inner,
        "lowered": np.full(len(pos), -0.07),
        "raised": np.full(len(pos), 0.09),
        "happy": 0.06 * (1 - u**2),
        "serious": -0.04 * inner,
    }[shape]
    off = np.zeros_like(pos)
    off[:, 1] = w * dy
    off[:, 2] = -BROW_PUSH * w * (1.0 + 0.3 * (shape == "serious"))
    return off


def expression_morphs(
    parts: list, start_of: Callable, make: Callable, n: int, eye_center: tuple[float, float, float, float]
) -> list:
    """The THA2 morphs (see the module table), built with builtin._vertex_morph `make`."""
    eye_x, eye_y, eye_rx, eye_ry = eye_center
    head = next(p for p in parts if p.material == "face")
    mouth = next(p for p in parts if p.material == "mouth")
    discs = {p.tags["side"][0]: p for p in parts if p.material == "eye"}
    lids = {p.tags["side"][0]: p for p in parts if p.material == "lash"}
    morphs = []

    def brow(name: str, en: str, shape: str, sides: tuple[float, ...]) -> None:
        offs = [(start_of(head), sum(_brow(head.positions, s, shape, eye_x) for s in sides))]
        morphs.append(make(name, en, 1, n, offs))

    for side, mmd, jp_side in ((1.0, "左", "L"), (-1.0, "右", "R")):
        arkit = "Left" if side > 0 else "Right"
        brow(f"困る{mmd}", f"troubled_{jp_side}", "troubled", (side,))
        brow(f"angry_{jp_side}", f"angry_{jp_side}", "angry", (side,))
        brow(f"browDown{arkit}", f"browDown{arkit}", "lowered", (side,))
        brow(f"browOuterUp{arkit}", f"browOuterUp{arkit}", "raised", (side,))
        brow(f"happy brow_{jp_side}", f"happy brow_{jp_side}", "happy", (side,))
    brow("真面目", "serious", "serious", (1.0, -1.0))

    for side, mmd, jp_side in ((1.0, "左", "L"), (-1.0, "右", "R")):
        arkit = "Left" if side > 0 else "Right"
        disc, lid = discs[side], lids[side]
        dpos, lpos = disc.positions, lid.positions
        # surprised: lid up, eye taller
        wide_lid = np.zeros_like(lpos)
        wide_lid[:, 1] = 0.08
        wide_disc = np.zeros_like(dpos)
        wide_disc[:, 1] = (dpos[:, 1] - eye_y) * 0.18
        morphs.append(
            make(
                f"eyeWide{arkit}",
                f"eyeWide{arkit}",
                2,
                n,
                [(start_of(lid), wide_lid), (start_of(disc), wide_disc)],
            )
        )
        # relaxed: soft, lowered lids (a little under half a smile close)
        morphs.append(
            make(
                f"なごみ{mmd}",
                f"relaxed_{jp_side}",
                2,
                n,
                [(start_of(lid), 0.45 * lid.tags["smile"]), (start_of(disc), 0.45 * disc.tags["smile"])],
            )
        )
        # unimpressed: flat half-closed lids
        flat = 0.55 * lid.tags["close"]
        flat[:, 1] = np.minimum(flat[:, 1], 0.0)
        morphs.append(
            make(
                f"unimpressed_{jp_side}",
                f"unimpressed_{jp_side}",
                2,
                n,
                [(start_of(lid), flat), (start_of(disc), 0.5 * disc.tags["close"])],
            )
        )
        # raised lower eyelid: the bottom of the eye pushed up
        lower = np.zeros_like(dpos)
        lower[:, 1] = np.clip(eye_y - 0.05 - dpos[:, 1], 0.0, None) * 0.6
        morphs.append(make(f"下瞼上げ{mmd}", f"lower lid up_{jp_side}", 2, n, [(start_of(disc), lower)]))
        # small iris: the inner rings of the eye disc (iris and pupil) drawn toward its centre
        local = np.hypot((dpos[:, 0] - side * eye_x) / eye_rx, (dpos[:, 1] - eye_y) / eye_ry)
        shrink = np.where(local < 0.75, 0.45 * (1.0 - local / 0.75), 0.0)
        small = np.zeros_like(dpos)
        small[:, 0] = (side * eye_x - dpos[:, 0]) * shrink
        small[:, 1] = (eye_y - dpos[:, 1]) * shrink
        morphs.append(make(f"瞳小{mmd}", f"small iris_{jp_side}", 2, n, [(start_of(disc), small)]))

    mpos = mouth.positions
    half_w = float(np.abs(mpos[:, 0]).max())
    for side, jp_side in ((1.0, "L"), (-1.0, "R")):
        arkit = "Left" if side > 0 else "Right"
        corner = np.clip(side * mpos[:, 0] / half_w, 0.0, 1.0) ** 2
        down = np.zeros_like(mpos)
        down[:, 1] = -0.08 * corner
        up = np.zeros_like(mpos)
        up[:, 1] = 0.08 * corner
        morphs.append(make(f"mouthFrown{arkit}", f"mouthFrown{arkit}", 3, n, [(start_of(mouth), down)]))
        morphs.append(
            make(f"mouth corner up_{jp_side}", f"mouth corner up_{jp_side}", 3, n, [(start_of(mouth), up)])
        )
    smirk = np.zeros_like(mpos)
    left = np.clip(mpos[:, 0] / half_w, 0.0, 1.0) ** 2
    smirk[:, 0] = 0.04 * left
    smirk[:, 1] = 0.1 * left
    morphs.append(make("はんっ！", "smirk", 3, n, [(start_of(mouth), smirk)]))
    return morphs
