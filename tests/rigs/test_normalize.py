"""Rig normalization on small synthetic models (geometry built here) and on the real Gene model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from thagen.errors import ConfigError, ModelFormatError
from thagen.rigs.flatten import flatten_group_morph
from thagen.rigs.model import Bone, Model, Morph, MorphKind
from thagen.rigs.normalize import normalize
from thagen.rigs.normalize.geometry import split_weights
from thagen.rigs.normalize.roles import default_role_table, fold_name

# --------------------------------------------------------------------------- synthetic models
#
# A head sphere (radius 1 at y=15, weighted to the head bone), a body column below it, an eye
# patch at each side of the face (+X = the character's left, MMD convention) and a mouth patch.

HEAD_C = np.array([0.0, 15.0, 0.0])


def _patch(cx: float, cy: float, nx: int = 5, ny: int = 4, w: float = 0.3, h: float = 0.15) -> np.ndarray:
    xs, ys = np.meshgrid(np.linspace(cx - w / 2, cx + w / 2, nx), np.linspace(cy - h / 2, cy + h / 2, ny))
    return np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, 0.95)], axis=1)


def _sphere(n: int = 300) -> np.ndarray:
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    theta = np.pi * (1 + 5**0.5) * i
    return HEAD_C + np.stack([np.cos(theta) * np.sin(phi), np.cos(phi), np.sin(theta) * np.sin(phi)], axis=1)


class Rig:
    """Vertex index ranges of the synthetic model's parts."""

    def __init__(self) -> None:
        parts = {
            "sphere": _sphere(),
            "eye_l": _patch(0.4, 15.2),
            "eye_r": _patch(-0.4, 15.2),
            "mouth": _patch(0.0, 14.5, nx=5, ny=3, w=0.3, h=0.1),
            "body": np.stack([np.zeros(40), np.linspace(5, 13, 40), np.zeros(40)], axis=1),
        }
        self.slices: dict[str, np.ndarray] = {}
        start = 0
        for key, pts in parts.items():
            self.slices[key] = np.arange(start, start + len(pts))
            start += len(pts)
        self.positions = np.concatenate(list(parts.values())).astype(np.float32)

    def close(self, side: str, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """A normal close: the eye patch's upper lid comes down, most in the middle."""
        idx = self.slices["eye_l" if side == "left" else "eye_r"]
        pos = self.positions[idx]
        cx = pos[:, 0].mean()
        amount = 0.12 * (1.2 - np.abs(pos[:, 0] - cx) / 0.3) * (pos[:, 1] - 15.1 + 0.2)
        off = np.zeros((len(idx), 3), np.float32)
        off[:, 1] = -amount * scale
        return idx, off

    def smile(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        """A smile wink: the lower lid rises in an arc and the cheek pushes up."""
        idx = self.slices["eye_l" if side == "left" else "eye_r"]
        pos = self.positions[idx]
        off = np.zeros((len(idx), 3), np.float32)
        lower = pos[:, 1] < 15.2
        off[lower, 1] = 0.1
        off[~lower, 1] = -0.02
        off[:, 0] = 0.03 * np.sign(pos[:, 0])
        return idx, off

    def blink(self) -> tuple[np.ndarray, np.ndarray]:
        il, ol = self.close("left")
        ir, orr = self.close("right")
        return np.concatenate([il, ir]), np.concatenate([ol, orr])

    def mouth(self) -> tuple[np.ndarray, np.ndarray]:
        idx = self.slices["mouth"]
        off = np.zeros((len(idx), 3), np.float32)
        off[:, 1] = -0.08
        return idx, off

    def body_move(self) -> tuple[np.ndarray, np.ndarray]:
        idx = self.slices["body"]
        return idx, np.tile(np.array([[0.0, 0.0, 0.5]], np.float32), (len(idx), 1))


def vmorph(name: str, data: tuple[np.ndarray, np.ndarray], name_en: str = "", panel: int = 2) -> Morph:
    idx, off = data
    return Morph(
        name=name,
        name_en=name_en,
        panel=panel,
        kind=int(MorphKind.VERTEX),
        indices=np.asarray(idx, np.int32),
        values=np.asarray(off, np.float32),
    )


def make_model(
    rig: Rig,
    morphs: list[Morph],
    *,
    bone_names: tuple[str, str, str] = ("首", "頭", "上半身"),
    bone_names_en: tuple[str, str, str] = ("", "", ""),
    extra_bones: list[Bone] | None = None,
    head_weighted: bool = True,
) -> Model:
    neck, head, body = bone_names
    bones = [
        Bone(neck, bone_names_en[0], position=np.array([0.0, 13.6, 0.0], np.float32), parent=2),
        Bone(head, bone_names_en[1], position=np.array([0.0, 14.2, 0.0], np.float32), parent=0),
        Bone(body, bone_names_en[2], position=np.array([0.0, 10.0, 0.0], np.float32)),
        *(extra_bones or []),
    ]
    n = len(rig.positions)
    bi = np.full((n, 4), -1, np.int32)
    bw = np.zeros((n, 4), np.float32)
    head_verts = np.concatenate([rig.slices[k] for k in ("sphere", "eye_l", "eye_r", "mouth")])
    bi[:, 0] = 2
    bw[:, 0] = 1.0
    if head_weighted:
        bi[head_verts, 0] = 1
    return Model(
        name="synthetic",
        positions=rig.positions.copy(),
        normals=np.zeros((n, 3), np.float32),
        uvs=np.zeros((n, 2), np.float32),
        deform_types=np.zeros(n, np.uint8),
        bone_indices=bi,
        bone_weights=bw,
        edge_scales=np.ones(n, np.float32),
        bones=bones,
        morphs=morphs,
    )


def standard_model(rig: Rig) -> Model:
    """Like many MMD models (and Gene): smile winks plus normal closes with other names."""
    return make_model(
        rig,
        [
            vmorph("まばたき", rig.blink()),
            vmorph("ウィンク", rig.smile("left")),
            vmorph("ウィンク右", rig.smile("right")),
            vmorph("ウィンク２", rig.close("left")),
            vmorph("ｳｨﾝｸ２右", rig.close("right")),
            vmorph("あ", rig.mouth(), panel=3),
        ],
    )


@pytest.fixture()
def rig() -> Rig:
    return Rig()


def dense(model: Model, morph: Morph) -> np.ndarray:
    out = np.zeros((model.vertex_count, 3), np.float64)
    np.add.at(out, np.asarray(morph.indices), np.asarray(morph.values, np.float64))
    return out


# --------------------------------------------------------------------------- names


def test_fold_name_meets_variants() -> None:
    assert fold_name("ｳｨﾝｸ２右") == fold_name("ウィンク2右") == fold_name("うぃんく２右")
    assert fold_name("jawOpen") == fold_name("jaw_open") == fold_name("Jaw Open")
    assert fold_name("ｱ") == fold_name("あ") != fold_name("い")
    assert fold_name("ウィンク") != fold_name("ウィンク右")


def test_role_table_shape() -> None:
    table = default_role_table()
    assert set(table.required) == {"head", "neck", "mouth_open", "eye_close_left", "eye_close_right"}
    assert table.roles["head"].kind == "bone" and table.roles["mouth_open"].kind == "morph"
    assert table.roles["eye_close_left"].pool == table.roles["eye_close_right"].pool
    assert table.roles["mouth_open"].canonical == "あ"


# --------------------------------------------------------------------------- geometry


def test_standard_model_prefers_normal_closes_over_smile_winks(rig: Rig) -> None:
    report = normalize(standard_model(rig))
    assert report.ok, report.missing_required
    m = report.matches
    assert (m["head"].name, m["head"].method) == ("頭", "exact")
    assert (m["neck"].name, m["neck"].method) == ("首", "exact")
    assert (m["mouth_open"].name, m["mouth_open"].method) == ("あ", "exact")
    assert m["eye_close_both"].name == "まばたき"
    assert (m["eye_close_left"].name, m["eye_close_left"].method) == ("ウィンク２", "geometry")
    assert m["eye_close_right"].name == "ｳｨﾝｸ２右"
    assert m["eye_close_left"].score is not None and m["eye_close_left"].score > 0.99
    assert "ウィンク" in m["eye_close_left"].detail  # the beaten smile wink is reported
    assert report.synthetic_morphs == {}
    assert report.morph_for("eye_close_right") == "ｳｨﾝｸ２右"
    assert report.bone_for("head") == "頭"
    assert report.head_height == pytest.approx(2.0, abs=0.05)
    json.dumps(report.to_dict(), ensure_ascii=False)


def test_mirrored_winks_are_assigned_by_geometry(rig: Rig) -> None:
    # ウィンク closes the -X eye (the character's right) in this model.
    model = make_model(
        rig,
        [
            vmorph("ウィンク", rig.close("right")),
            vmorph("ウィンク右", rig.close("left")),
            vmorph("あ", rig.mouth()),
        ],
    )
    report = normalize(model)
    assert report.ok
    assert report.matches["eye_close_right"].name == "ウィンク"
    assert report.matches["eye_close_left"].name == "ウィンク右"
    assert "-X" in report.matches["eye_close_right"].detail
    assert any("ウィンク右" in w and "left" in w for w in report.warnings)


def test_mirrored_winks_with_blink(rig: Rig) -> None:
    model = make_model(
        rig,
        [
            vmorph("まばたき", rig.blink()),
            vmorph("ウィンク", rig.close("right")),
            vmorph("ウィンク右", rig.close("left")),
            vmorph("あ", rig.mouth()),
        ],
    )
    report = normalize(model)
    assert report.matches["eye_close_right"].name == "ウィンク"
    assert report.matches["eye_close_left"].name == "ウィンク右"
    assert report.matches["eye_close_left"].score == pytest.approx(1.0, abs=1e-6)


def test_blink_only_falls_back_to_a_split(rig: Rig) -> None:
    model = make_model(rig, [vmorph("まばたき", rig.blink()), vmorph("あ", rig.mouth())])
    report = normalize(model)
    assert report.ok
    left, right = report.synthetic_morphs["eye_close_left"], report.synthetic_morphs["eye_close_right"]
    assert report.matches["eye_close_left"].method == "fallback"
    assert report.morph_for("eye_close_left") == left.name == "thagen:eye_close_left"
    assert right.kind == MorphKind.VERTEX
    blink = model.morphs[0]
    np.testing.assert_allclose(dense(model, left) + dense(model, right), dense(model, blink), atol=1e-6)
    # each side moves only its own eye
    assert np.all(model.positions[left.indices, 0] > 0)
    assert np.all(model.positions[right.indices, 0] < 0)
    np.testing.assert_allclose(dense(model, left)[rig.slices["eye_l"]], rig.close("left")[1], atol=1e-6)
    assert report.to_dict()["synthetic_morphs"]["eye_close_left"]["vertex_count"] == len(left.indices)


def test_split_weights_are_smooth_and_complementary() -> None:
    x = np.linspace(-1, 1, 201)
    w = split_weights(x, 0.0, 0.1)
    assert w[0] == 0 and w[-1] == 1 and w[100] == pytest.approx(0.5)
    assert np.all(np.diff(w) >= 0)
    assert np.all((w > 0) & (w < 1) == (np.abs(x) < 0.1))


def test_smile_wink_only_loses_to_the_split_blink(rig: Rig) -> None:
    model = make_model(
        rig,
        [
            vmorph("まばたき", rig.blink()),
            vmorph("ウィンク", rig.smile("left")),
            vmorph("ウィンク右", rig.smile("right")),
            vmorph("あ", rig.mouth()),
        ],
    )
    report = normalize(model)
    assert report.matches["eye_close_left"].method == "fallback"
    assert any("ウィンク" in w and "splitting" in w for w in report.warnings)


def test_half_width_names(rig: Rig) -> None:
    model = make_model(
        rig,
        [
            vmorph("ﾏﾊﾞﾀｷ", rig.blink()),
            vmorph("ｳｨﾝｸ２", rig.close("left")),
            vmorph("ｳｨﾝｸ２右", rig.close("right")),
            vmorph("ｱ", rig.mouth()),
        ],
    )
    report = normalize(model)
    assert report.ok
    assert report.matches["mouth_open"].name == "ｱ"
    assert report.matches["mouth_open"].method == "alias"
    assert report.matches["eye_close_both"].name == "ﾏﾊﾞﾀｷ"
    assert report.matches["eye_close_left"].name == "ｳｨﾝｸ２"


def test_english_names_only(rig: Rig) -> None:
    model = make_model(
        rig,
        [
            vmorph("Blink", rig.blink()),
            vmorph("Wink", rig.smile("left")),
            vmorph("eyeBlinkLeft", rig.close("left")),
            vmorph("eyeBlinkRight", rig.close("right")),
            vmorph("jawOpen", rig.mouth()),
        ],
        bone_names=("Neck", "Head", "Spine"),
    )
    report = normalize(model)
    assert report.ok, report.matches
    assert report.bone_for("head") == "Head" and report.bone_for("neck") == "Neck"
    assert report.matches["eye_close_left"].name == "eyeBlinkLeft"
    assert report.matches["eye_close_right"].name == "eyeBlinkRight"
    assert report.matches["mouth_open"].name == "jawOpen"


def test_pmx_english_fields_are_used(rig: Rig) -> None:
    model = make_model(
        rig,
        [vmorph("口1", rig.mouth(), name_en="a"), vmorph("目1", rig.blink(), name_en="blink")],
        bone_names=("bone0", "bone1", "bone2"),
        bone_names_en=("neck", "head", ""),
    )
    report = normalize(model)
    assert report.ok
    assert report.matches["mouth_open"].name == "口1"
    assert "English" in report.matches["mouth_open"].detail
    assert report.bone_for("head") == "bone1"


def test_missing_mouth_is_not_ok(rig: Rig) -> None:
    model = make_model(rig, [vmorph("まばたき", rig.blink())])
    report = normalize(model)
    assert not report.ok
    assert report.missing_required == ["mouth_open"]
    assert report.matches["mouth_open"].method == "missing"
    assert report.morph_for("mouth_open") is None


def test_morphs_must_move_the_head(rig: Rig) -> None:
    idx, off = rig.mouth()
    model = make_model(
        rig,
        [
            vmorph("あ", rig.body_move()),  # moves the body, not the head
            vmorph("ア", (idx, off * 0.02)),  # too small to see
            vmorph("a", (idx, off)),
            vmorph("まばたき", rig.blink()),
        ],
    )
    report = normalize(model)
    match = report.matches["mouth_open"]
    assert match.name == "a"
    assert "'あ' moves no vertices of the head" in match.detail
    assert "'ア' moves head vertices only" in match.detail


def test_head_bone_needs_weighted_vertices(rig: Rig) -> None:
    model = make_model(rig, [vmorph("あ", rig.mouth())], head_weighted=False)
    report = normalize(model)
    assert "head" in report.missing_required
    assert "no weighted vertices" in report.matches["head"].detail


def test_one_sided_blink_is_not_a_blink(rig: Rig) -> None:
    model = make_model(rig, [vmorph("まばたき", rig.close("left")), vmorph("あ", rig.mouth())])
    report = normalize(model)
    assert report.matches["eye_close_both"].method == "missing"
    assert "one side" in report.matches["eye_close_both"].detail
    # a lone one-sided "blink" is a broken model: nothing to split, an override must say what to use
    assert report.missing_required == ["eye_close_left", "eye_close_right"]


def test_unnamed_eye_panel_morph_found_by_shape(rig: Rig) -> None:
    model = make_model(
        rig,
        [vmorph("まばたき", rig.blink()), vmorph("とじL", rig.close("left")), vmorph("あ", rig.mouth())],
    )
    report = normalize(model)
    assert report.matches["eye_close_left"].name == "とじL"
    assert report.matches["eye_close_right"].method == "fallback"


def test_eye_bones_and_side_check(rig: Rig) -> None:
    extra = [
        Bone("両目", position=np.array([0.0, 15.2, 0.5], np.float32), parent=1),
        Bone("左目", position=np.array([-0.4, 15.2, 0.5], np.float32), parent=1),  # on the wrong side
        Bone("右目", position=np.array([-0.4, 15.2, 0.5], np.float32), parent=1),
    ]
    report = normalize(make_model(rig, [vmorph("あ", rig.mouth())], extra_bones=extra))
    assert report.bone_for("eyes") == "両目"
    assert report.bone_for("eye_right") == "右目"
    assert any(w.startswith("eye_left") for w in report.warnings)
    assert not any(w.startswith("eye_right") for w in report.warnings)


# --------------------------------------------------------------------------- group and bone morphs


def group(name: str, children: list[int], weights: list[float], panel: int = 2) -> Morph:
    return Morph(
        name=name,
        panel=panel,
        kind=int(MorphKind.GROUP),
        indices=np.array(children, np.int32),
        values=np.array(weights, np.float32),
    )


def test_flatten_group_morph_multiplies_nested_weights(rig: Rig) -> None:
    il, ol = rig.close("left")
    ir, orr = rig.close("right")
    morphs = [
        vmorph("L", (il, ol)),
        vmorph("R", (ir, orr)),
        group("inner", [0, 1], [0.5, 1.0]),
        group("outer", [2, 0], [2.0, 1.0]),  # L: 2*0.5 + 1 = 2, R: 2*1 = 2
    ]
    model = make_model(rig, morphs)
    idx, off = flatten_group_morph(model, 3)
    assert idx.dtype == np.int32 and np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(idx, np.sort(np.concatenate([il, ir])))
    expected = np.zeros((model.vertex_count, 3))
    expected[il] += 2 * ol
    expected[ir] += 2 * orr
    np.testing.assert_allclose(off, expected[idx], atol=1e-6)
    # a plain vertex morph flattens to itself
    idx0, off0 = flatten_group_morph(model, 0)
    np.testing.assert_array_equal(idx0, il)


def test_flatten_group_morph_cycle_is_an_error(rig: Rig) -> None:
    model = make_model(
        rig, [vmorph("L", rig.close("left")), group("g1", [0, 2], [1, 1]), group("g2", [1], [1])]
    )
    with pytest.raises(ModelFormatError, match="cycle"):
        flatten_group_morph(model, 1)


def test_group_blink_is_resolved(rig: Rig) -> None:
    morphs = [
        vmorph("閉L", rig.close("left"), panel=0),
        vmorph("閉R", rig.close("right"), panel=0),
        group("まばたき", [0, 1], [1.0, 1.0]),
        vmorph("あ", rig.mouth()),
    ]
    report = normalize(make_model(rig, morphs))
    assert report.matches["eye_close_both"].name == "まばたき"
    assert "group of 2" in report.matches["eye_close_both"].detail
    assert report.matches["eye_close_left"].method == "fallback"
    left = report.synthetic_morphs["eye_close_left"]
    assert set(left.indices.tolist()) == set(rig.slices["eye_l"].tolist())


def test_cyclic_candidate_is_skipped_with_a_warning(rig: Rig) -> None:
    morphs = [vmorph("あ", rig.mouth()), group("まばたき", [2], [1.0]), group("x", [1], [1.0])]
    report = normalize(make_model(rig, morphs))
    assert report.matches["eye_close_both"].method == "missing"
    assert any("cycle" in w for w in report.warnings)


def test_bone_morph_mouth_open(rig: Rig) -> None:
    jaw = Bone("あご", position=np.array([0.0, 14.6, 0.3], np.float32), parent=1)
    model = make_model(rig, [], extra_bones=[jaw])
    model.bone_indices[rig.slices["mouth"], 0] = 3
    values = np.array([[0, 0, 0, 0.2, 0, 0, 0.98]], np.float32)
    model.morphs = [
        Morph("あ", panel=3, kind=int(MorphKind.BONE), indices=np.array([3], np.int32), values=values),
        vmorph("まばたき", rig.blink()),
    ]
    report = normalize(model)
    assert report.ok
    assert report.matches["mouth_open"].name == "あ"
    assert "bone morph driving あご" in report.matches["mouth_open"].detail


def test_material_morph_does_not_count(rig: Rig) -> None:
    mat = Morph(
        "あ", kind=int(MorphKind.MATERIAL), indices=np.array([-1], np.int32), values=np.zeros((1, 28))
    )
    report = normalize(make_model(rig, [mat, vmorph("まばたき", rig.blink())]))
    assert report.matches["mouth_open"].method == "missing"
    assert "material morph" in report.matches["mouth_open"].detail


# --------------------------------------------------------------------------- overrides


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_override_file_beside_model(rig: Rig, tmp_path: Path) -> None:
    model = standard_model(rig)
    model_path = tmp_path / "chara.pmx"
    write(
        tmp_path / "chara.thagen.yaml",
        "version: 1\nroles:\n  eye_close_left: ウィンク\n  eye_close_right: split\n  eyes: absent\n",
    )
    report = normalize(model, model_path=model_path)
    assert report.override_file == str(tmp_path / "chara.thagen.yaml")
    assert report.matches["eye_close_left"].method == "override"
    assert report.matches["eye_close_left"].name == "ウィンク"
    assert report.matches["eye_close_left"].score is not None and report.matches["eye_close_left"].score < 0.7
    assert report.matches["eye_close_right"].method == "fallback"
    assert report.morph_for("eye_close_right") == "thagen:eye_close_right"
    assert report.matches["eyes"].method == "absent"
    assert report.ok


def test_folder_override_and_explicit_dict(rig: Rig, tmp_path: Path) -> None:
    write(tmp_path / "thagen.yaml", "roles:\n  mouth_open: absent\n")
    report = normalize(standard_model(rig), model_path=tmp_path / "other.pmx")
    assert report.missing_required == ["mouth_open"]
    assert report.matches["mouth_open"].method == "absent"
    report2 = normalize(standard_model(rig), overrides={"roles": {"head": {"name": "頭"}}})
    assert report2.matches["head"].method == "override" and report2.ok


def test_override_folded_name(rig: Rig) -> None:
    report = normalize(standard_model(rig), overrides={"roles": {"eye_close_right": "ウィンク2右"}})
    assert report.matches["eye_close_right"].name == "ｳｨﾝｸ２右"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("roles:\n  mouth: あ\n", "roles.mouth: unknown role"),
        ("roles:\n  mouth_open: いいい\n", "roles.mouth_open: no morph named 'いいい'"),
        ("roles:\n  mouth_open: 頭\n", "roles.mouth_open: '頭' is a bone"),
        ("roles:\n  head: [頭]\n", "roles.head: expected a bone/morph name"),
        ("roles:\n  head:\n", "roles.head: empty value"),
        ("roles:\n  head: split\n", "roles.head: 'split' only applies"),
        ("role:\n  head: 頭\n", "unknown top-level key"),
        ("roles: [head]\n", "roles: expected a mapping"),
        ("roles: {head: {name: 頭, absent: true}}\n", "roles.head: expected {name: NAME}"),
        ("roles:\n  head: 首\n", "roles.head: bone '首' has no vertices weighted"),
        ("roles: {: bad\n", "not valid YAML"),
    ],
)
def test_override_mistakes_name_file_and_key(rig: Rig, tmp_path: Path, text: str, needle: str) -> None:
    path = write(tmp_path / "bad.thagen.yaml", text)
    with pytest.raises(ConfigError) as info:
        normalize(standard_model(rig), overrides=path)
    assert str(path) in str(info.value)
    assert needle in str(info.value)


def test_missing_override_file_is_a_config_error(rig: Rig, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read override file"):
        normalize(standard_model(rig), overrides=tmp_path / "nope.yaml")


def test_builtin_character_uses_normal_closes() -> None:
    from thagen.rigs.builtin import builtin_character

    report = normalize(builtin_character())
    assert report.ok, report.missing_required
    m = report.matches
    assert (m["head"].name, m["neck"].name, m["eyes"].name) == ("頭", "首", "両目")
    assert (m["eye_close_left"].name, m["eye_close_right"].name) == ("ウィンク２", "ｳｨﾝｸ２右")
    assert m["eye_close_left"].score > 0.99 and m["eye_close_right"].score > 0.99
    # the smile winks were candidates and lost on shape
    assert "'ウィンク'" in m["eye_close_left"].detail and "'ウィンク右'" in m["eye_close_right"].detail
    assert report.morph_for("mouth_open") == "あ"


def test_find_override_file_order(tmp_path: Path) -> None:
    from thagen.rigs.normalize.overrides import find_override_file

    model = tmp_path / "chara.pmx"
    assert find_override_file(model) is None
    write(tmp_path / "thagen.yaml", "roles: {}\n")
    assert find_override_file(model) == tmp_path / "thagen.yaml"
    write(tmp_path / "chara.thagen.yaml", "roles: {}\n")
    assert find_override_file(model) == tmp_path / "chara.thagen.yaml"
    # models inside a zip: the member's stem, then the zip's stem; never the folder-wide file
    archive = tmp_path / "pack.zip"
    assert find_override_file(archive, "x/Miku.pmx") is None
    write(tmp_path / "pack.thagen.yaml", "roles: {}\n")
    assert find_override_file(archive, "x/Miku.pmx") == tmp_path / "pack.thagen.yaml"
    write(tmp_path / "Miku.thagen.yaml", "roles: {}\n")
    assert find_override_file(archive, "x/Miku.pmx") == tmp_path / "Miku.thagen.yaml"


def test_discovery_can_be_turned_off(rig: Rig, tmp_path: Path) -> None:
    write(tmp_path / "thagen.yaml", "roles:\n  mouth_open: absent\n")
    assert not normalize(standard_model(rig), model_path=tmp_path / "m.pmx").ok
    assert normalize(standard_model(rig), model_path=tmp_path / "m.pmx", discover=False).ok
