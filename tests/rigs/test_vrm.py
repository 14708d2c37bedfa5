"""VRM 0.x / 1.0 reading: round trip of the built-in character, coordinates, roles, CLI.

The writer (rigs/formats/vrm/writer.py) gives files whose truth is known; the reader must give back
the same geometry in thagen's frame whichever way the file's version faces.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from glb_chunks import join_glb, split_glb

from thagen.errors import ModelFormatError
from thagen.rigs.builtin import builtin_character
from thagen.rigs.builtin.vrm import BUILTIN_HUMANOID, BUILTIN_PRESETS, builtin_vrm_bytes, write_builtin_vrm
from thagen.rigs.coordinates import MMD_SCALE
from thagen.rigs.formats.vrm.reader import read_vrm
from thagen.rigs.formats.vrm.writer import vrm_bytes
from thagen.rigs.model import Model, MorphKind
from thagen.rigs.normalize import normalize
from thagen.rigs.reader import read_model, read_model_bytes

VERSIONS = ("0.x", "1.0")
THAGEN = [sys.executable, "-m", "thagen"]


# ----------------------------------------------------------------------------- GLB helpers (shared)


@pytest.fixture(scope="module")
def original() -> Model:
    return builtin_character()


@pytest.fixture(scope="module")
def vrm_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("vrm")
    return {v: write_builtin_vrm(folder, v, name=f"builtin_{v[0]}") for v in VERSIONS}


# ----------------------------------------------------------------------------- round trip


def assert_same_geometry(read: Model, original: Model) -> None:
    """Everything VRM can carry equals the original within float32 tolerance."""
    np.testing.assert_allclose(read.positions, original.positions, atol=2e-5)
    np.testing.assert_allclose(read.normals, original.normals, atol=1e-6)
    np.testing.assert_array_equal(read.uvs, original.uvs)
    np.testing.assert_array_equal(read.faces, original.faces)
    np.testing.assert_array_equal(read.bone_indices, original.bone_indices)
    np.testing.assert_allclose(read.bone_weights, original.bone_weights, atol=1e-6)
    np.testing.assert_array_equal(read.deform_types, original.deform_types)
    assert [b.name for b in read.bones] == [b.name for b in original.bones]
    assert [b.parent for b in read.bones] == [b.parent for b in original.bones]
    np.testing.assert_allclose(
        [b.position for b in read.bones], [b.position for b in original.bones], atol=2e-5
    )
    assert [(m.name, m.face_start, m.face_count, m.double_sided) for m in read.materials] == [
        (m.name, m.face_start, m.face_count, m.double_sided) for m in original.materials
    ]
    np.testing.assert_allclose([m.diffuse for m in read.materials], [m.diffuse for m in original.materials])
    assert [read.textures[m.texture].rsplit(":", 1)[-1].rsplit("/", 1)[-1] for m in read.materials] == [
        original.textures[m.texture] for m in original.materials
    ]
    vertex = [m for m in original.morphs if m.kind == MorphKind.VERTEX]
    for m in vertex:
        got = read.morphs[read.morph_index(m.name)]
        np.testing.assert_array_equal(got.indices, m.indices)
        np.testing.assert_allclose(got.values, m.values, atol=2e-5)


@pytest.mark.parametrize("version", VERSIONS)
def test_read_back_equals_the_original(version: str, original: Model) -> None:
    model = read_vrm(builtin_vrm_bytes(version), "builtin.vrm")
    assert model.format == "vrm" and model.vrm is not None and model.vrm.spec_version == version
    assert_same_geometry(model, original)
    # expressions: presets mapped, weights applied, the rest custom
    info = model.vrm
    for name, preset in BUILTIN_PRESETS.items():
        expr = info.expression(preset)
        assert expr is not None, preset
        got, want = model.morphs[expr.morph], original.morphs[original.morph_index(name)]
        np.testing.assert_allclose(got.values, want.values, atol=2e-5)
    custom = {e.name for e in info.expressions if not e.preset}
    # every morph the presets do not take is a custom expression (the smile winks among them)
    assert len(custom) == len(original.morphs) - len(BUILTIN_PRESETS) and {"wink", "wink_R"} <= custom
    assert {k: model.bones[i].name for k, i in info.humanoid.items()} == BUILTIN_HUMANOID
    assert len(info.embedded_images) == 2 and all(m.shader == "MToon" for m in info.materials)


@pytest.mark.parametrize("version", VERSIONS)
def test_file_axes_follow_the_spec_version(version: str, original: Model) -> None:
    """In the file, VRM 1.0 faces +Z with its left at +X; VRM 0.x faces -Z with its left at -X."""
    doc, binary = split_glb(builtin_vrm_bytes(version))
    names = [n.get("name") for n in doc["nodes"]]
    left_eye = np.array(doc["nodes"][names.index("左目")]["translation"])  # parent 頭 sits at x = 0
    head = doc["nodes"][names.index("頭")]
    head_world = np.sum(
        [doc["nodes"][names.index(n)]["translation"] for n in ("全ての親", "センター", "上半身", "首")],
        axis=0,
    ) + np.array(head["translation"])
    eye_world = head_world + left_eye
    # the eyes sit in front of the head bone: +Z for 1.0, -Z for 0.x
    front = np.sign(eye_world[2] - head_world[2])
    left = np.sign(eye_world[0])
    assert (front, left) == ((1.0, 1.0) if version == "1.0" else (-1.0, -1.0))
    assert eye_world[1] == pytest.approx(original.bones[original.bone_index("左目")].position[1] * MMD_SCALE)


@pytest.mark.parametrize("version", VERSIONS)
def test_roles_come_from_the_humanoid_map_and_presets(version: str) -> None:
    model = read_vrm(builtin_vrm_bytes(version), "builtin.vrm")
    rig = normalize(model, discover=False)
    assert rig.ok and not rig.missing_required
    blink = "Blink" if version == "0.x" else "blink"
    left = "Blink_L" if version == "0.x" else "blinkLeft"
    right = "Blink_R" if version == "0.x" else "blinkRight"
    mouth = "A" if version == "0.x" else "aa"
    got = {role: (m.name, m.method) for role, m in rig.matches.items()}
    assert got["head"] == ("頭", "exact") and got["neck"] == ("首", "exact")
    assert got["eye_left"] == ("左目", "exact") and got["eye_right"] == ("右目", "exact")
    assert got["eye_close_both"] == (blink, "exact")
    assert got["mouth_open"] == (mouth, "exact")
    # one-eye closes: named by the presets, sides decided by geometry (+X is the character's left)
    assert got["eye_close_left"] == (left, "geometry") and got["eye_close_right"] == (right, "geometry")
    assert not rig.synthetic_morphs
    assert "+X" in rig.matches["eye_close_left"].detail


def test_a_swapped_preset_is_caught_by_geometry() -> None:
    """A file whose blinkLeft closes the right eye: the geometry, not the name, decides the side."""
    presets = {**BUILTIN_PRESETS, "ウィンク２": "blinkRight", "ｳｨﾝｸ２右": "blinkLeft"}
    model = read_vrm(vrm_bytes(builtin_character(), "1.0", presets=presets), "swapped.vrm")
    rig = normalize(model, discover=False)
    assert rig.matches["eye_close_left"].name == "blinkRight"
    assert rig.matches["eye_close_right"].name == "blinkLeft"


def test_binary_expressions_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "binary.vrm"
    path.write_bytes(builtin_vrm_bytes("1.0", binary=frozenset({"まばたき", "あ"})))
    model = read_model(path)
    assert sorted(model.vrm.binary_expressions) == ["aa", "blink"]
    proc = subprocess.run([*THAGEN, "inspect", "--json", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert sorted(report["vrm"]["binary_expressions"]) == ["aa", "blink"]


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_inspect_and_rig_check_cli(version: str, vrm_files: dict[str, Path]) -> None:
    path = vrm_files[version]
    proc = subprocess.run([*THAGEN, "inspect", "--json", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["format"] == "vrm" and report["vrm"]["spec_version"] == version
    assert report["counts"]["vertices"] == builtin_character().vertex_count
    assert report["textures_missing"] == 0 and report["textures_found"] == 2
    assert report["vrm"]["humanoid"]["head"] == "頭"
    text = subprocess.run([*THAGEN, "inspect", str(path)], capture_output=True, text=True).stdout
    assert f"VRM {version}" in text and "humanoid bones: 6" in text
    proc = subprocess.run([*THAGEN, "rig", "check", "--json", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (entry,) = json.loads(proc.stdout)
    rig = entry["report"]
    assert rig["ok"] and all(m["method"] in ("exact", "geometry") for m in rig["matches"].values())
    assert rig["matches"]["eye_close_left"]["name"] == ("Blink_L" if version == "0.x" else "blinkLeft")


def test_rig_survey_takes_vrm_files(vrm_files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "survey.csv"
    folder = vrm_files["1.0"].parent
    (folder / "broken.vrm").write_bytes(b"glTF\x02\x00\x00\x00\xff\xff\x00\x00")
    proc = subprocess.run(
        [*THAGEN, "rig", "survey", str(folder), "--out", str(out)], capture_output=True, text=True
    )
    (folder / "broken.vrm").unlink()
    assert proc.returncode == 0, proc.stderr
    rows = out.read_text().splitlines()
    assert len(rows) == 4  # header + two usable + one error row
    assert sum("usable" in r and "unusable" not in r for r in rows[1:]) == 2
    assert any("broken.vrm" in r and "error" in r for r in rows[1:])


# ----------------------------------------------------------------------------- glTF variants


def test_gltf_with_external_buffer_and_images(tmp_path: Path, original: Model) -> None:
    """A .gltf + .bin + PNG files: read from the model's folder only."""
    from thagen.rigs.builtin.vrm import builtin_png_bytes

    doc, binary = split_glb(builtin_vrm_bytes("1.0"))
    (tmp_path / "model.bin").write_bytes(binary[: doc["buffers"][0]["byteLength"]])
    doc["buffers"][0]["uri"] = "model.bin"
    pngs = builtin_png_bytes()
    for img in doc["images"]:
        view = doc["bufferViews"][img.pop("bufferView")]
        name = img["name"]
        (tmp_path / "tex").mkdir(exist_ok=True)
        (tmp_path / "tex" / name).write_bytes(
            binary[view["byteOffset"] : view["byteOffset"] + view["byteLength"]]
        )
        assert (tmp_path / "tex" / name).read_bytes() == pngs[name]
        img["uri"] = f"tex/{name}"
    path = tmp_path / "model.gltf"
    path.write_text(json.dumps(doc))
    model = read_model(path)
    assert_same_geometry(model, original)
    assert model.textures == ["tex/builtin_atlas.png", "tex/builtin_toon.png"]
    from thagen.rigs.formats.textures import texture_report

    assert all(row["found"] for row in texture_report(model))
    # without the folder (bytes only) the external buffer cannot be reached
    with pytest.raises(ModelFormatError, match=r"buffers\[0\]\.uri.*without the model's folder"):
        read_model_bytes(path.read_bytes(), name="model.gltf")


def test_data_uri_buffer_and_plain_glb(original: Model) -> None:
    import base64

    doc, binary = split_glb(builtin_vrm_bytes("1.0"))
    doc["buffers"][0]["uri"] = "data:application/octet-stream;base64," + base64.b64encode(binary).decode()
    del doc["extensions"], doc["extensionsUsed"]
    model = read_model_bytes(json.dumps(doc).encode(), name="plain.gltf")
    assert model.vrm.spec_version == "" and not model.vrm.expressions
    assert_same_geometry(model, original)  # plain glTF faces +Z, like VRM 1.0
    rig = normalize(model, discover=False)  # roles from the names alone
    assert rig.ok


def test_skinned_mesh_in_another_bind_pose_is_put_in_rest_pose(original: Model) -> None:
    """Move the mesh data by +1 m in x and say so in the inverse bind matrices: same rest pose."""
    doc, binary = split_glb(builtin_vrm_bytes("1.0"))
    binary = bytearray(binary)
    pos_acc = doc["accessors"][doc["meshes"][0]["primitives"][0]["attributes"]["POSITION"]]
    view = doc["bufferViews"][pos_acc["bufferView"]]
    pos = np.frombuffer(binary, np.float32, pos_acc["count"] * 3, view["byteOffset"]).reshape(-1, 3).copy()
    pos[:, 0] += 1.0
    binary[view["byteOffset"] : view["byteOffset"] + pos.nbytes] = pos.tobytes()
    ibm_acc = doc["accessors"][doc["skins"][0]["inverseBindMatrices"]]
    view = doc["bufferViews"][ibm_acc["bufferView"]]
    ibm = (
        np.frombuffer(binary, np.float32, ibm_acc["count"] * 16, view["byteOffset"]).reshape(-1, 4, 4).copy()
    )
    ibm[:, 3, 0] -= 1.0  # column-major: translation x of each inverse bind matrix
    binary[view["byteOffset"] : view["byteOffset"] + ibm.nbytes] = ibm.tobytes()
    model = read_vrm(join_glb(doc, bytes(binary)), "rebound.vrm")
    np.testing.assert_allclose(model.positions, original.positions, atol=3e-4)
    assert np.abs(model.positions[:, 0] - original.positions[:, 0]).max() < 1e-3 / MMD_SCALE


def test_binary_parameters_and_snapping() -> None:
    from thagen.rigs.formats.vrm.binary_expressions import binary_parameters, snap_pose

    model = read_vrm(builtin_vrm_bytes("0.x", binary=frozenset({"まばたき", "あ"})), "b.vrm")
    rig = normalize(model, discover=False)
    # the blink is binary, but the one-eye closes have their own (continuous) presets
    assert binary_parameters(model, rig) == ["mouth"]
    rig = normalize(
        model,
        discover=False,
        overrides={"version": 1, "roles": {"eye_close_left": "split", "eye_close_right": "split"}},
    )
    assert binary_parameters(model, rig) == ["left_eye", "right_eye", "mouth"]
    pose = {"left_eye": 0.51, "right_eye": 0.5, "mouth": 0.2, "head_x": 0.3}
    assert snap_pose(pose, ["left_eye", "right_eye", "mouth"]) == {
        "left_eye": 1.0,
        "right_eye": 0.0,
        "mouth": 0.0,
        "head_x": 0.3,
    }
    assert binary_parameters(builtin_character(), rig) == []  # PMX: nothing is binary


def test_vrm_inside_a_zip(tmp_path: Path) -> None:
    import zipfile

    from thagen.rigs.formats.archive import list_models

    archive = tmp_path / "avatars.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("アバター/avatar.vrm", builtin_vrm_bytes("0.x"))
        zf.writestr("アバター/readme.txt", "hi")
    assert list_models(archive) == ["アバター/avatar.vrm"]
    model = read_model(archive, cache_dir=tmp_path / "cache")
    assert model.vrm.spec_version == "0.x" and model.source_path.suffix == ".vrm"
    assert normalize(model).ok


# ----------------------------------------------------------------------------- a hand-built glTF


def _hand_built() -> bytes:
    """Two meshes: a skinned triangle (8 influences, normalized u8 weights, no inverse binds, a
    sparse morph target) and an unskinned, indexless, normal-less triangle used by two nodes
    (one under the head with a scale, one placed by a column-major matrix)."""
    import base64

    chunks: list[bytes] = []
    views: list[dict] = []
    accessors: list[dict] = []

    def add(array: np.ndarray, kind: str, ctype: int, **extra: Any) -> int:
        raw = np.ascontiguousarray(array).tobytes()
        offset = sum(len(c) for c in chunks)
        chunks.append(raw + b"\x00" * (-len(raw) % 4))
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(raw)})
        accessors.append(
            {"bufferView": len(views) - 1, "componentType": ctype, "count": len(array), "type": kind, **extra}
        )
        return len(accessors) - 1

    tri = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32)
    joints0 = np.array([[0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 1]], np.uint8)
    weights0 = np.array([[255, 0, 0, 0], [255, 0, 0, 0], [60, 60, 10, 10]], np.uint8)
    joints1 = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [0, 1, 0, 0]], np.uint8)
    weights1 = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [5, 5, 0, 0]], np.uint8)
    body = {
        "POSITION": add(tri, "VEC3", 5126),
        "NORMAL": add(np.tile([0, 0, 1], (3, 1)).astype(np.float32), "VEC3", 5126),
        "JOINTS_0": add(joints0, "VEC4", 5121),
        "WEIGHTS_0": add(weights0, "VEC4", 5121, normalized=True),
        "JOINTS_1": add(joints1, "VEC4", 5121),
        "WEIGHTS_1": add(weights1, "VEC4", 5121, normalized=True),
    }
    sparse_idx = add(np.array([1], np.uint16), "SCALAR", 5123)
    sparse_val = add(np.array([[0, 0.1, 0]], np.float32), "VEC3", 5126)
    target = {"componentType": 5126, "count": 3, "type": "VEC3"}
    target["sparse"] = {
        "count": 1,
        "indices": {"bufferView": accessors[sparse_idx]["bufferView"], "componentType": 5123},
        "values": {"bufferView": accessors[sparse_val]["bufferView"]},
    }
    accessors.append(target)
    target_index = len(accessors) - 1
    hat = {"POSITION": add(tri * 0.1, "VEC3", 5126)}
    binary = b"".join(chunks)
    doc = {
        "asset": {"version": "2.0"},
        "scenes": [{"nodes": [0]}],
        "nodes": [
            {"name": "root", "children": [1, 3, 4]},
            {"name": "head", "translation": [0, 1.5, 0], "children": [2]},
            {"name": "hat", "mesh": 1, "translation": [0, 0.2, 0], "scale": [2, 2, 2]},
            {"name": "body", "mesh": 0, "skin": 0},
            {"name": "hat2", "mesh": 1, "matrix": [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1]},
        ],
        "skins": [{"joints": [0, 1]}],
        "meshes": [
            {
                "name": "body",
                "primitives": [{"attributes": body, "targets": [{"POSITION": target_index}]}],
                "extras": {"targetNames": ["up"]},
            },
            {"name": "hat", "primitives": [{"attributes": hat}]},
        ],
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [
            {
                "byteLength": len(binary),
                "uri": "data:application/octet-stream;base64," + base64.b64encode(binary).decode(),
            }
        ],
    }
    return json.dumps(doc).encode()


def test_hand_built_gltf() -> None:
    model = read_model_bytes(_hand_built(), name="hand.gltf")
    to_mmd = np.array([1.0, 1.0, -1.0]) / MMD_SCALE  # plain glTF faces +Z, like VRM 1.0
    expected = np.array(
        [
            [0, 1.7, 0], [0.2, 1.7, 0], [0, 1.9, 0],  # hat (node 2): head (1.5) + 0.2, scaled 2x
            [0, 0, 0], [1, 1.5, 0], [0, 1.75, 0],  # body: joint 1 sits 1.5 up, no inverse binds
            [1, 0, 0], [1.1, 0, 0], [1, 0.1, 0],  # hat2: the column-major matrix moves it +1 in x
        ]
    )  # fmt: skip
    np.testing.assert_allclose(model.positions, expected * to_mmd, atol=1e-5)
    assert [b.name for b in model.bones] == ["root", "head"] and model.bones[1].parent == 0
    # 8 influences -> the 4 largest (stored order), renormalized; normalized u8 weights
    np.testing.assert_array_equal(model.bone_indices[5], [0, 1, 0, 1])
    np.testing.assert_allclose(model.bone_weights[5], np.array([60, 60, 10, 10]) / 140, atol=1e-6)
    np.testing.assert_array_equal(model.bone_indices[:, 0], [1, 1, 1, 0, 1, 0, 0, 0, 0])
    # the unskinned hats hang on their nearest bone node, with normals computed from faces
    hats = [0, 1, 2, 6, 7, 8]
    np.testing.assert_allclose(model.normals[hats], np.tile([0, 0, -1.0], (6, 1)), atol=1e-6)
    # faces are reversed (the axis flip is a reflection) and offset per vertex block
    np.testing.assert_array_equal(model.faces, [[2, 1, 0], [5, 4, 3], [8, 7, 6]])
    (up,) = model.morphs
    assert up.name == "up"
    np.testing.assert_array_equal(up.indices, [4])
    np.testing.assert_allclose(up.values, [[0, 0.1 / MMD_SCALE, 0]], atol=1e-6)
    assert [m.face_count for m in model.materials] == [1, 1, 1]


def test_t_pose_arms_are_lowered() -> None:
    """The humanoid upper arm's subtree turns down 40 degrees about its joint (blend-skinned)."""
    from thagen.rigs.formats.vrm.pose import _rotation_z

    model = builtin_character()
    humanoid = {**BUILTIN_HUMANOID, "leftUpperArm": "後髪"}  # any bone with weighted vertices will do
    data = vrm_bytes(model, "1.0", presets=BUILTIN_PRESETS, humanoid=humanoid)
    kept = read_vrm(data, "t.vrm", lower_arm_degrees=0)
    lowered = read_vrm(data, "t.vrm")
    bone = kept.bone_index("後髪")
    share = np.where(kept.bone_indices == bone, kept.bone_weights, 0).sum(axis=1)
    assert (share == 1).sum() > 10 and ((share > 0) & (share < 1)).sum() > 0
    pivot = kept.bones[bone].position.astype(np.float64)
    rot = _rotation_z(-40.0)  # the character's left arm (+X) turns toward -Y
    full = share == 1
    want = pivot + (kept.positions[full] - pivot) @ rot.T
    np.testing.assert_allclose(lowered.positions[full], want, atol=1e-4)
    np.testing.assert_array_equal(lowered.positions[share == 0], kept.positions[share == 0])
    half = (share > 0) & (share < 1)
    blended = kept.positions[half] + share[half, None] * (
        pivot + (kept.positions[half] - pivot) @ rot.T - kept.positions[half]
    )
    np.testing.assert_allclose(lowered.positions[half], blended, atol=1e-4)
    np.testing.assert_allclose(lowered.bones[bone].position, pivot, atol=1e-6)  # the joint stays
    np.testing.assert_allclose(
        lowered.bones[bone].tail_offset, kept.bones[bone].tail_offset @ rot.T, atol=1e-5
    )
    assert any("leftUpperArm lowered 40 degrees" in n for n in lowered.vrm.notes)
    assert normalize(lowered, discover=False).ok


def test_arkit_names_come_after_presets_and_before_the_tables() -> None:
    """No one-eye or mouth presets, but perfect-sync (ARKit) targets: those win over table names."""
    model = builtin_character()
    renamed = {"ウィンク２": "eyeBlinkLeft", "ｳｨﾝｸ２右": "eyeBlinkRight", "あ": "jawOpen"}
    for morph in model.morphs:
        morph.name = renamed.get(morph.name, morph.name)
    data = vrm_bytes(model, "1.0", presets={"まばたき": "blink"}, humanoid=BUILTIN_HUMANOID)
    vrm = read_vrm(data, "arkit.vrm")
    # the custom expression made from あ is named "mouth_a" (its English name): a table name
    assert vrm.morph_index("mouth_a") >= 0
    rig = normalize(vrm, discover=False)
    assert rig.matches["eye_close_both"].name == "blink"
    assert rig.matches["mouth_open"].name == "jawOpen"
    assert rig.matches["eye_close_left"].name == "eyeBlinkLeft"
    assert rig.matches["eye_close_right"].name == "eyeBlinkRight"
