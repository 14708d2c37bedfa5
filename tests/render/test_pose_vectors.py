"""THA2 / THA3 pose vectors: definitions, THA2's joint sampling, rest poses, manifest fields."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from thagen.errors import ConfigError
from thagen.pose_vectors import THA1_ALIASES, pose_vector_def
from thagen.render.manifest import expand_characters, load_manifest, parse_manifest
from thagen.render.output.shards import POSE_NAMES
from thagen.render.poses.sampling import ParamDist, PoseSpec, sample_poses
from thagen.render.poses.vector_sampling import (
    VectorPoseSpec,
    sample_vector_columns,
    sample_vector_poses,
    vector_rest_pose,
)

N = 100_000


def test_vector_lengths_order_and_groups() -> None:
    tha2, tha3 = pose_vector_def("tha2"), pose_vector_def("tha3")
    assert (len(pose_vector_def("tha1")), len(tha2), len(tha3)) == (6, 42, 45)
    assert pose_vector_def("tha1").names == POSE_NAMES
    assert tha3.names[:42] == tha2.names
    # the index table of the THA2/THA3 demo code
    assert tha2.names[0:2] == ("eyebrow_troubled_left", "eyebrow_troubled_right")
    assert tha2.names[12] == "eye_wink_left"
    assert tha2.names[22:26] == (
        "eye_raised_lower_eyelid_left",
        "eye_raised_lower_eyelid_right",
        "iris_small_left",
        "iris_small_right",
    )
    assert tha2.names[26] == "mouth_aaa" and tha2.names[36] == "mouth_smirk"
    assert tha2.names[37:42] == ("iris_rotation_x", "iris_rotation_y", "head_x", "head_y", "neck_z")
    assert tha3.names[42:] == ("body_y", "body_z", "breathing")
    assert sum(1 for p in tha2.params if p.is_morph) == 37
    assert len(set(tha3.names)) == 45
    assert set(tha2.features()) == {
        "eyebrow_left",
        "eyebrow_right",
        "eye_left",
        "eye_right",
        "iris_left",
        "iris_right",
        "mouth",
    }
    assert len(tha2.features()["mouth"]) == 11
    with pytest.raises(KeyError, match="tha9"):
        pose_vector_def("tha9")


@pytest.fixture(scope="module")
def columns() -> dict[str, np.ndarray]:
    return sample_vector_columns(VectorPoseSpec("tha3"), 5, "gene-3f2a9c01", N)


def test_feature_sums_never_exceed_one(columns: dict[str, np.ndarray]) -> None:
    for feature, names in pose_vector_def("tha3").features().items():
        total = sum(columns[n] for n in names)
        assert total.max() <= 1.0 + 1e-12, feature
        assert min(columns[n].min() for n in names) >= 0.0


def test_tha2_group_proportions_within_one_percent(columns: dict[str, np.ndarray]) -> None:
    for feature, names in pose_vector_def("tha3").features().items():
        if feature.startswith("iris_"):
            continue
        nonzero = (np.stack([columns[n] for n in names], axis=1) > 0).sum(axis=1)
        assert abs(np.mean(nonzero == 1) - 0.25) < 0.01, feature
        assert abs(np.mean(nonzero == 2) - 0.75) < 0.01, feature
        assert nonzero.max() == 2
        one = np.stack([columns[n] for n in names], axis=1)[nonzero == 1].sum(axis=1)
        assert abs(one.mean() - 2 / 3) < 0.01  # p(v) ~ v on [0, 1] has mean 2/3
        # every semantic is picked about equally often
        share = (np.stack([columns[n] for n in names], axis=1) > 0).mean(axis=0)
        assert share.max() - share.min() < 0.02
    # two semantics: first ~ U[0, 1], the second ~ U[0, 1 - x]: E[second] = 1/4, E[sum] = 3/4
    names = pose_vector_def("tha3").features()["eye_left"]
    table = np.stack([columns[n] for n in names], axis=1)
    two = table[(table > 0).sum(axis=1) == 2]
    assert abs(two.sum(axis=1).mean() - 0.75) < 0.01


def test_iris_and_rotation_rules(columns: dict[str, np.ndarray]) -> None:
    for side in ("left", "right"):
        v = columns[f"iris_small_{side}"]
        assert abs(np.mean(v == 0.0) - 0.25) < 0.01
        assert abs(v[v > 0].mean() - 0.5) < 0.01
    for n in ("iris_rotation_x", "iris_rotation_y"):
        v = columns[n]
        assert v.min() >= -1 and v.max() <= 1
        assert abs(np.mean(np.abs(v) < 0.5) - 0.5) < 0.01  # uniform
    # THA1's p(v) ~ |v| for the face and body rotations: P(|v| < 0.5) = 0.25
    for n in ("head_x", "head_y", "neck_z", "body_y", "body_z"):
        assert abs(np.mean(np.abs(columns[n]) < 0.5) - 0.25) < 0.01, n
    assert 0 <= columns["breathing"].min() and columns["breathing"].max() <= 1


def test_same_seed_identical_other_seed_differs_prefix_stable() -> None:
    spec = VectorPoseSpec("tha3")
    a = sample_vector_poses(spec, 3, "x-00000001", 200, ambient_range=(0.5, 1.2))
    assert a == sample_vector_poses(spec, 3, "x-00000001", 200, ambient_range=(0.5, 1.2))
    assert a[:50] == sample_vector_poses(spec, 3, "x-00000001", 50, ambient_range=(0.5, 1.2))
    b = sample_vector_poses(spec, 4, "x-00000001", 200, ambient_range=(0.5, 1.2))
    assert [p["head_x"] for p in a] != [p["head_x"] for p in b]
    assert list(a[0])[:45] == list(pose_vector_def("tha3").names)
    for tha1_name, name in THA1_ALIASES.items():
        assert all(p[tha1_name] == p[name] for p in a)
    big = sample_vector_columns(spec, 3, "x-00000001", N)
    assert np.array_equal(big["mouth_aaa"], sample_vector_columns(spec, 3, "x-00000001", N)["mouth_aaa"])


def test_explicit_distribution_leaves_joint_sampling_and_sums_stay_bounded() -> None:
    spec = VectorPoseSpec(
        "tha2", {"mouth_aaa": ParamDist("uniform", 0.5, 1.0), "head_x": ParamDist("fixed", value=0.3)}
    )
    cols = sample_vector_columns(spec, 1, "x-1", 20_000)
    assert cols["mouth_aaa"].min() >= 0.5
    total = sum(cols[n] for n in pose_vector_def("tha2").features()["mouth"])
    assert total.max() <= 1 + 1e-12
    assert np.all(cols["head_x"] == 0.3)
    assert abs(cols["mouth_aaa"].mean() - 0.75) < 0.01  # drawn alone, never scaled (sum <= 1 left)
    # the explicit parameter changes no other parameter's stream outside its feature
    plain = sample_vector_columns(VectorPoseSpec("tha2"), 1, "x-1", 20_000)
    assert np.array_equal(plain["eye_wink_left"], cols["eye_wink_left"])
    with pytest.raises(ValueError, match="mouth_oops"):
        VectorPoseSpec("tha2", {"mouth_oops": ParamDist("uniform")})
    with pytest.raises(ValueError, match="outside"):
        VectorPoseSpec("tha2", {"iris_rotation_x": ParamDist("uniform", -2.0, 1.0)})


def test_tha2_rest_pose_mouth_open_with_p_075_per_character() -> None:
    ids = [f"char-{i:08x}" for i in range(4000)]
    opened = [vector_rest_pose("tha2", "tha2", 9, cid)["mouth_aaa"] for cid in ids]
    assert abs(np.mean(opened) - 0.75) < 0.03
    assert set(opened) == {0.0, 1.0}
    assert opened == [vector_rest_pose("tha2", "tha2", 9, cid)["mouth_aaa"] for cid in ids]
    rest = vector_rest_pose("tha3", "tha1", 0, "x")
    assert rest["mouth_aaa"] == rest["mouth"] == 1.0
    assert sum(v for k, v in rest.items() if k not in ("mouth_aaa", "mouth")) == 0.0
    assert vector_rest_pose("tha3", {"breathing": 0.5}, 0, "x")["breathing"] == 0.5


# ---------------------------------------------------------------- manifest


def _write(folder: Path, data: dict) -> Path:
    path = folder / "m.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_tha1_default_is_unchanged(tmp_path: Path) -> None:
    m = load_manifest(_write(tmp_path, {"seed": 2, "characters": [{"builtin": True}]}))
    assert m.pose_vector == "tha1"
    assert "pose_vector" not in m.to_dict() and "required_parameters" not in m.to_dict()
    job = expand_characters(m)[0]
    assert job.pose_vector == "tha1"
    assert job.poses() == sample_poses(PoseSpec(), 2, job.id, job.pose_count)
    assert list(job.poses()[0]) == list(POSE_NAMES)


def test_tha3_manifest_round_trips_and_expands(tmp_path: Path) -> None:
    data = {
        "seed": 2,
        "pose_vector": "tha3",
        "poses_per_character": 5,
        "pose_sampling": {"breathing": 0.25, "eyebrow_angry_left": {"dist": "uniform", "high": 0.5}},
        "required_parameters": ["mouth_aaa", "head_x"],
        "characters": [{"builtin": True}],
    }
    m = load_manifest(_write(tmp_path, data))
    again = parse_manifest(yaml.safe_load(yaml.safe_dump(m.to_dict(), sort_keys=False)), m.path)
    assert again == m
    job = expand_characters(m)[0]
    poses = job.poses()
    assert len(poses) == 5 and all(p["breathing"] == 0.25 for p in poses)
    assert job.rest_pose["mouth_aaa"] in (0.0, 1.0) and job.rest_pose["mouth"] == job.rest_pose["mouth_aaa"]
    assert job.required_parameters == ("mouth_aaa", "head_x")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"pose_vector": "tha4"}, "pose_vector"),
        ({"pose_vector": "tha2", "pose_sampling": {"left_eye": 0.5}}, "pose_sampling.left_eye"),
        ({"pose_vector": "tha2", "pose_sampling": {"body_y": 0.5}}, "pose_sampling.body_y"),
        (
            {"pose_vector": "tha3", "pose_sampling": {"iris_small_left": 1.5}},
            "pose_sampling.iris_small_left.value",
        ),
        ({"pose_vector": "tha3", "pose_sampling": {"one_semantic_p": 2}}, "pose_sampling.one_semantic_p"),
        ({"pose_vector": "tha3", "rest_pose": {"mouth": 1}}, "rest_pose.mouth"),
        ({"pose_vector": "tha3", "required_parameters": ["smile"]}, "required_parameters[0]"),
        ({"required_parameters": ["mouth_aaa"]}, "required_parameters"),
    ],
)
def test_bad_vector_fields_name_the_field(tmp_path: Path, change: dict, field: str) -> None:
    path = _write(tmp_path, {"characters": [{"builtin": True}], **change})
    with pytest.raises(ConfigError) as info:
        load_manifest(path)
    assert f"{path}: {field}:" in str(info.value)


# ---------------------------------------------------------------- posing targets (pure)


def _angle(r: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip((np.trace(r) - 1) / 2, -1, 1))))


def test_vector_targets_angles_masking_and_motion_settings() -> None:
    from thagen.pose_vectors import with_tha1_view
    from thagen.render.poses.vector_posing import masked_pose, vector_expression_only, vector_targets
    from thagen.rigs.builtin import builtin_character
    from thagen.rigs.normalize import normalize

    ext = normalize(builtin_character(), pose_vector="tha3", discover=False).extended
    zero = with_tha1_view(dict.fromkeys(pose_vector_def("tha3").names, 0.0))
    rest = vector_targets(zero, ext)
    assert all(np.allclose(r, np.eye(3)) for r in rest.bones.values())
    assert set(rest.morphs.values()) == {0.0} and "あ" not in rest.morphs  # THA1's part is THA1's
    posed = vector_targets({**zero, "body_y": 1.0, "iris_rotation_y": -0.5, "eyebrow_angry_left": 0.7}, ext)
    assert _angle(posed.bones["上半身"]) == pytest.approx(15.0)
    iris = ext.params["iris_rotation_y"]
    assert _angle(posed.bones["左目"]) == pytest.approx(0.5 * iris.degrees[0])
    assert posed.morphs["angry_L"] == 0.7
    ext.motion = {"body_degrees": 5.0, "breathing_chest_degrees": 3.0}
    slow = vector_targets({**zero, "body_z": -1.0, "breathing": 1.0}, ext)
    # the built-in character has no shoulders: its chest is 上半身 (body turn and breathing lean)
    assert _angle(slow.bones["上半身"]) == pytest.approx(np.hypot(5.0, 3.0), abs=0.05)
    masked = masked_pose({**zero, "mouth_delta": 0.4, "mouth_iii": 0.3}, ext)
    assert masked["mouth_delta"] == 0.0 and masked["mouth_iii"] == 0.3  # delta is missing
    expr = vector_expression_only(
        {**zero, "head_x": 1.0, "body_y": 1.0, "breathing": 1.0, "iris_rotation_x": 1.0}
    )
    assert (expr["head_x"], expr["body_y"], expr["breathing"], expr["iris_rotation_x"]) == (0, 0, 0, 1.0)


def test_vector_motion_field(tmp_path: Path) -> None:
    data = {
        "pose_vector": "tha3",
        "vector_motion": {"breathing_shoulder_degrees": 6},
        "characters": [{"builtin": True}],
    }
    m = load_manifest(_write(tmp_path, data))
    assert m.vector_motion == {"breathing_shoulder_degrees": 6.0}
    assert expand_characters(m)[0].vector_motion == {"breathing_shoulder_degrees": 6.0}
    for bad, field in (
        ({"pose_vector": "tha3", "vector_motion": {"wings": 1}}, "vector_motion.wings"),
        ({"vector_motion": {"body_degrees": 5}}, "vector_motion"),
    ):
        path = _write(tmp_path, {"characters": [{"builtin": True}], **bad})
        with pytest.raises(ConfigError) as info:
            load_manifest(path)
        assert f"{path}: {field}:" in str(info.value)


def test_framing_preset_field(tmp_path: Path) -> None:
    m = load_manifest(_write(tmp_path, {"framing_preset": "tha3", "characters": [{"builtin": True}]}))
    assert (m.framing_preset, m.image_size) == ("tha3", 512)  # THA3's input size by default
    assert m.to_dict()["framing_preset"] == "tha3"
    assert (
        load_manifest(
            _write(tmp_path, {"framing_preset": "tha3", "image_size": 256, "characters": [{"builtin": True}]})
        ).image_size
        == 256
    )
    plain = load_manifest(_write(tmp_path, {"characters": [{"builtin": True}]}))
    assert plain.framing_preset == "tha1" and "framing_preset" not in plain.to_dict()
    path = _write(tmp_path, {"framing_preset": "tha2", "characters": [{"builtin": True}]})
    with pytest.raises(ConfigError, match=f"{path}: framing_preset:"):
        load_manifest(path)


def test_images_field_presets_custom_lists_and_image_poses(tmp_path: Path) -> None:
    from thagen.render.poses.sample_images import image_pose

    base = {"pose_vector": "tha3", "characters": [{"builtin": True}]}
    m = load_manifest(_write(tmp_path, {**base, "images": "tha2_stages"}))
    assert [s.name for s in m.images] == ["eyebrow"] and m.to_dict()["images"] == "tha2_stages"
    custom = [
        {"name": "mouth_only", "apply": ["mouth"]},
        {"name": "body", "apply": ["body_rotation", "breathing"]},
    ]
    m = load_manifest(_write(tmp_path, {**base, "images": custom}))
    again = parse_manifest(yaml.safe_load(yaml.safe_dump(m.to_dict(), sort_keys=False)), m.path)
    assert again == m and expand_characters(m)[0].images == m.images
    assert "images" not in load_manifest(_write(tmp_path, base)).to_dict()
    job = expand_characters(m)[0]
    pose = job.poses()[0]
    mouth = image_pose(m.images[0], pose, job.rest_pose, "tha3")
    for name in pose_vector_def("tha3").names:
        want = pose[name] if name.startswith("mouth_") else job.rest_pose[name]
        assert mouth[name] == want, name
    assert mouth["mouth"] == mouth["mouth_aaa"] and mouth["head_x"] == 0.0
    for bad, field in (
        ([{"name": "rot", "apply": ["all"]}], "images[0].name"),
        ([{"name": "x", "apply": ["wings"]}], "images[0].apply[0]"),
        ([{"name": "x", "apply": []}], "images[0].apply"),
        ("tha9", "images"),
    ):
        path = _write(tmp_path, {**base, "images": bad})
        with pytest.raises(ConfigError) as info:
            load_manifest(path)
        assert f"{path}: {field}:" in str(info.value)
