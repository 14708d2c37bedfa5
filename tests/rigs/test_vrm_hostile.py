"""Hostile VRM / glTF input: each a one-line ModelFormatError naming the file and the field.

Lying GLB lengths, out-of-range accessors and views, gigabyte counts, JSON that is not an
object, node cycles, and URIs that try to leave the model's folder (absolute, '..', symlinks,
schemes, oversized data: URIs). Nothing outside the model's folder is read.
"""

from __future__ import annotations

import copy
import json
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from glb_chunks import join_glb, split_glb

from thagen.errors import ModelFormatError
from thagen.rigs.builtin.vrm import builtin_vrm_bytes
from thagen.rigs.formats.gltf import container as gltf_container
from thagen.rigs.reader import read_model, read_model_bytes


@pytest.fixture(scope="module")
def parts() -> dict[str, tuple[dict[str, Any], bytes]]:
    return {v: split_glb(builtin_vrm_bytes(v)) for v in ("0.x", "1.0")}


def expect_error(data: bytes, field: str, message: str = "", name: str = "evil.vrm") -> ModelFormatError:
    with pytest.raises(ModelFormatError) as info:
        read_model_bytes(data, name=name)
    err = info.value
    assert err.path == name
    assert err.field is not None and field in err.field, str(err)
    assert message in str(err), str(err)
    assert "\n" not in str(err)
    assert not err.detail.startswith("unexpected parse failure"), str(err)
    return err


def edited(parts, version: str, edit: Callable[[dict[str, Any]], Any]) -> bytes:
    doc, binary = parts[version]
    doc = copy.deepcopy(doc)
    edit(doc)
    return join_glb(doc, binary)


# ----------------------------------------------------------------------------- GLB framing


def test_glb_lengths_that_lie(parts) -> None:
    good = join_glb(*parts["1.0"])
    err = expect_error(good[:8] + struct.pack("<I", len(good) + 100) + good[12:], "length", "the file has")
    assert err.offset == 8
    n_json = struct.unpack_from("<I", good, 12)[0]
    err = expect_error(good[:12] + struct.pack("<I", 2**31) + good[16:], "chunkLength", "runs past the end")
    assert err.offset == 12
    at = 20 + n_json
    expect_error(good[:at] + struct.pack("<I", 2**32 - 1) + good[at + 4 :], "chunkLength")
    expect_error(good[:8] + struct.pack("<I", 16) + good[12:16], "header")
    expect_error(good[:4] + struct.pack("<I", 1) + good[8:], "version")
    expect_error(good[:16] + struct.pack("<I", 0x004E4942) + good[20:], "chunkType", "not JSON")


@pytest.mark.parametrize(
    "text", [b"[1, 2]", b'"vrm"', b"42", b"null", b"{", b"[" * 100_000 + b"]" * 100_000, b"{\xff}"]
)
def test_json_that_is_not_an_object(text: bytes) -> None:
    body = text + b" " * (-len(text) % 4)
    glb = struct.pack("<4sII", b"glTF", 2, 20 + len(body)) + struct.pack("<II", len(body), 0x4E4F534A) + body
    expect_error(glb, "JSON")


def test_not_gltf_2(parts) -> None:
    expect_error(edited(parts, "1.0", lambda d: d.update(asset={"version": "1.0"})), "asset.version")


def test_compressed_geometry_is_refused(parts) -> None:
    draco = edited(parts, "1.0", lambda d: d.update(extensionsRequired=["KHR_draco_mesh_compression"]))
    expect_error(draco, "extensionsRequired", "KHR_draco_mesh_compression")
    expect_error(edited(parts, "1.0", lambda d: d.update(extensionsRequired={"a": 1})), "extensionsRequired")


# ----------------------------------------------------------------------------- accessors and views


def _first_position(doc: dict) -> int:
    return doc["meshes"][0]["primitives"][0]["attributes"]["POSITION"]


@pytest.mark.parametrize(
    "edit, field, message",
    [
        (lambda d: d["accessors"][_first_position(d)].update(count=2**40), "count", "over the"),
        (lambda d: d["accessors"][_first_position(d)].update(count=10_000_000), "count", "bufferView holds"),
        (lambda d: d["accessors"][_first_position(d)].update(count=-1), "count", ">= 1"),
        (
            lambda d: d["accessors"][_first_position(d)].update(bufferView=10_000),
            "bufferView",
            "out of range",
        ),
        (lambda d: d["accessors"][_first_position(d)].update(byteOffset=2**33), "count", "bufferView holds"),
        (lambda d: d["accessors"][_first_position(d)].update(componentType=5124), "componentType", "unknown"),
        (lambda d: d["accessors"][_first_position(d)].update(type="VEC9"), "type", "unknown"),
        (lambda d: d["accessors"][_first_position(d)].update(type="VEC2"), "type", "needs VEC3"),
        (lambda d: d["bufferViews"][0].update(byteLength=2**31), "bufferViews[0]", "run past buffer"),
        (lambda d: d["bufferViews"][0].update(byteStride=6), "byteStride", "not a multiple of 4"),
        (lambda d: d["bufferViews"][0].update(buffer=5), "buffer", "out of range"),
        (lambda d: d["buffers"][0].update(byteLength=2**40), "byteLength", "limit"),
        (lambda d: d["buffers"][0].update(byteLength=2**30), "byteLength", "byteLength says"),
        (lambda d: d.update(accessors={"0": 1}), "accessors", "must be an array"),
        (lambda d: d["accessors"].__setitem__(_first_position(d), "nope"), "accessors[", "must be an object"),
        (lambda d: d["meshes"][0]["primitives"][0].update(mode=1), "mode", "not triangles"),
        (
            lambda d: d["meshes"][0]["primitives"][0]["attributes"].pop("POSITION"),
            "attributes",
            "no POSITION",
        ),
        (
            lambda d: d["meshes"][0]["primitives"][0]["attributes"].update(NORMAL=0),
            "type",
            "NORMAL needs VEC3",
        ),
    ],
)
def test_accessors_and_views_out_of_range(parts, edit, field: str, message: str) -> None:
    expect_error(edited(parts, "1.0", edit), field, message)


def _patch_accessor(parts, version: str, pick: Callable[[dict], int], values: bytes) -> bytes:
    """Overwrite the start of an accessor's data in the BIN chunk."""
    doc, binary = parts[version]
    acc = doc["accessors"][pick(doc)]
    start = doc["bufferViews"][acc["bufferView"]]["byteOffset"] + acc.get("byteOffset", 0)
    binary = binary[:start] + values + binary[start + len(values) :]
    return join_glb(doc, binary)


def test_bad_values_in_the_binary(parts) -> None:
    indices = lambda d: d["meshes"][0]["primitives"][0]["indices"]  # noqa: E731
    joints = lambda d: d["meshes"][0]["primitives"][0]["attributes"]["JOINTS_0"]  # noqa: E731
    expect_error(_patch_accessor(parts, "1.0", indices, struct.pack("<I", 10**9)), "indices", "out of range")
    expect_error(
        _patch_accessor(parts, "0.x", joints, struct.pack("<H", 999)), "JOINTS_0", "joint 999 out of range"
    )
    nan = struct.pack("<f", float("nan"))
    expect_error(_patch_accessor(parts, "1.0", _first_position, nan), "accessors", "NaN")


def test_node_cycles_and_shared_children(parts) -> None:
    def cycle(d: dict) -> None:
        d["nodes"][0]["children"] = [1]
        d["nodes"][1]["children"] = d["nodes"][1].get("children", []) + [0]

    expect_error(edited(parts, "1.0", cycle), "children", "cycle")

    def loop(d: dict) -> None:  # a cycle no root reaches, each node with one parent
        d["nodes"] += [
            {"name": "a", "children": [len(d["nodes"]) + 1]},
            {"name": "b", "children": [len(d["nodes"])]},
        ]

    expect_error(edited(parts, "1.0", loop), "children", "cycle")
    expect_error(
        edited(parts, "1.0", lambda d: d["nodes"][3].update(children=[3])), "nodes[3].children", "parent"
    )
    expect_error(
        edited(parts, "1.0", lambda d: d["nodes"][3].update(children=[99_999])), "children", "out of range"
    )
    expect_error(
        edited(parts, "1.0", lambda d: d["nodes"][3].update(rotation=[0, 0, 0, 0])), "rotation", "unit"
    )
    expect_error(edited(parts, "1.0", lambda d: d["nodes"][3].update(translation=[1, "x", 2])), "translation")


def test_vrm_extension_fields(parts) -> None:
    def bind(d: dict) -> None:
        binds = d["extensions"]["VRMC_vrm"]["expressions"]["preset"]["blink"]["morphTargetBinds"]
        binds.append({"node": binds[0]["node"], "index": 99, "weight": 1.0})  # a stale bind
        binds.append({"node": 0, "index": 0, "weight": 1.0})  # a node without a mesh

    model = read_model_bytes(edited(parts, "1.0", bind), name="stale.vrm")
    assert model.vrm.expression("blink") is not None  # the good bind still makes the expression
    assert [n.split(": ", 1)[1] for n in model.vrm.notes] == [
        "mesh 0 has no morph target 99; bind skipped",
        "node 0 has no mesh; bind skipped",
    ]

    def weight(d: dict) -> None:
        d["extensions"]["VRMC_vrm"]["expressions"]["preset"]["blink"]["morphTargetBinds"][0]["weight"] = 1e9

    expect_error(edited(parts, "1.0", weight), "morphTargetBinds[0].weight", "out of range")

    def human(d: dict) -> None:
        d["extensions"]["VRM"]["humanoid"]["humanBones"][0]["node"] = -5

    expect_error(edited(parts, "0.x", human), "VRM.humanoid.humanBones[0].node", "out of range")
    expect_error(edited(parts, "1.0", lambda d: d["extensions"].update(VRMC_vrm=[])), "VRMC_vrm", "object")
    expect_error(
        edited(parts, "0.x", lambda d: d["extensions"]["VRM"]["blendShapeMaster"].update(blendShapeGroups=7)),
        "blendShapeGroups",
    )


# ----------------------------------------------------------------------------- files and URIs


@pytest.fixture
def gltf_folder(tmp_path: Path, parts) -> tuple[Path, dict[str, Any], bytes]:
    """A .gltf in tmp/model/ with its buffer as model.bin, and a secret file outside the folder."""
    folder = tmp_path / "model"
    folder.mkdir()
    doc, binary = copy.deepcopy(parts["1.0"][0]), parts["1.0"][1]
    length = doc["buffers"][0]["byteLength"]
    (folder / "model.bin").write_bytes(binary[:length])
    (tmp_path / "secret.bin").write_bytes(binary[:length])  # a buffer that would parse, if reached
    doc["buffers"][0]["uri"] = "model.bin"
    return folder, doc, binary


def _write(folder: Path, doc: dict) -> Path:
    path = folder / "model.gltf"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    "uri, message",
    [
        ("../secret.bin", "leaves the model's folder"),
        ("sub/../../secret.bin", "leaves the model's folder"),
        ("%2E%2E/secret.bin", "leaves the model's folder"),
        ("/etc/passwd", "absolute path"),
        ("\\\\server\\share\\x.bin", "absolute path"),
        ("C:/Windows/x.bin", "absolute path"),
        ("file:///etc/passwd", "absolute path or URL"),
        ("https://example.com/x.bin", "absolute path or URL"),
        ("missing.bin", "cannot read"),
    ],
)
def test_buffer_uris_stay_in_the_models_folder(gltf_folder, uri: str, message: str) -> None:
    folder, doc, _ = gltf_folder
    doc["buffers"][0]["uri"] = uri
    path = _write(folder, doc)
    with pytest.raises(ModelFormatError, match=message) as info:
        read_model(path)
    assert info.value.field == "buffers[0].uri" and info.value.path == str(path)
    assert "\n" not in str(info.value)


def test_symlink_out_of_the_folder_is_refused(gltf_folder) -> None:
    folder, doc, _ = gltf_folder
    os.symlink(folder.parent / "secret.bin", folder / "link.bin")
    doc["buffers"][0]["uri"] = "link.bin"
    with pytest.raises(ModelFormatError, match="resolves outside the model's folder"):
        read_model(_write(folder, doc))
    doc["buffers"][0]["uri"] = "model.bin"
    assert read_model(_write(folder, doc)).vertex_count > 0  # the honest file reads


def test_image_uris_are_checked_too(gltf_folder) -> None:
    folder, doc, _ = gltf_folder
    doc["images"][0] = {"uri": "../../etc/passwd"}
    with pytest.raises(ModelFormatError, match=r"images\[0\]\.uri: path .* leaves"):
        read_model(_write(folder, doc))


def test_file_larger_than_its_byte_length_is_refused(gltf_folder) -> None:
    folder, doc, binary = gltf_folder
    (folder / "model.bin").write_bytes(binary + b"\x00" * 1000)
    with pytest.raises(ModelFormatError, match="more than the"):
        read_model(_write(folder, doc))


def test_huge_and_broken_data_uris(parts, monkeypatch: pytest.MonkeyPatch) -> None:
    import base64

    doc, binary = copy.deepcopy(parts["1.0"][0]), parts["1.0"][1]
    doc["buffers"][0]["uri"] = "data:application/octet-stream;base64," + base64.b64encode(binary).decode()
    text = json.dumps(doc).encode()
    assert read_model_bytes(text, name="ok.gltf").vertex_count > 0
    monkeypatch.setattr(gltf_container, "MAX_DATA_URI_BYTES", 1000)  # the limit, made small to test
    expect_error(text, "buffers[0].uri", "byte limit", name="big.gltf")
    monkeypatch.undo()
    doc["buffers"][0]["uri"] = "data:application/octet-stream;base64,@@@@"
    expect_error(json.dumps(doc).encode(), "buffers[0].uri", "bad base64", name="bad.gltf")
    doc["buffers"][0]["uri"] = "data:text/plain,hello"
    expect_error(json.dumps(doc).encode(), "buffers[0].uri", "not base64", name="bad.gltf")


# ----------------------------------------------------------------------------- amplification


@pytest.mark.slow
def test_small_files_cannot_decode_to_gigabytes(parts) -> None:
    """Many accessors, images or expressions over the same bytes: refused, not allocated."""

    def many_primitives(d: dict) -> None:
        prim = d["meshes"][0]["primitives"][0]
        position = d["accessors"][prim["attributes"]["POSITION"]]
        prims = []
        for _ in range(3000):  # each with its own (identical) POSITION accessor: no shared block
            d["accessors"].append(dict(position))
            prims.append({"attributes": {"POSITION": len(d["accessors"]) - 1}, "indices": prim["indices"]})
        d["meshes"][0]["primitives"] = prims
        d["meshes"][0].pop("extras", None)

    expect_error(edited(parts, "1.0", many_primitives), "accessors[", "decoding would need over")

    def many_images(d: dict) -> None:
        # 100 images over one view of the whole binary chunk: 100 x the file's size
        d["bufferViews"].append({"buffer": 0, "byteOffset": 0, "byteLength": d["buffers"][0]["byteLength"]})
        d["images"] += [
            {"bufferView": len(d["bufferViews"]) - 1, "mimeType": "image/png"} for _ in range(100)
        ]

    expect_error(edited(parts, "1.0", many_images), "images[", "decoding would need over")

    def many_expressions(d: dict) -> None:
        binds = [{"node": 10, "index": k, "weight": 1.0} for k in range(10)]
        custom = d["extensions"]["VRMC_vrm"]["expressions"]["custom"]
        for i in range(5000):
            custom[f"x{i}"] = {"morphTargetBinds": binds}

    expect_error(edited(parts, "1.0", many_expressions), "morphTargetBinds", "decoding would need over")

    def viewless(d: dict) -> None:  # zero-filled accessors cost memory without costing file bytes
        d["accessors"].append({"componentType": 5126, "count": 2**25 - 1, "type": "MAT4"})
        d["skins"][0]["inverseBindMatrices"] = len(d["accessors"]) - 1

    expect_error(edited(parts, "1.0", viewless), "accessors[", "decoding would need over")

    def wrong_count(d: dict) -> None:
        d["accessors"].append({"componentType": 5126, "count": 2**25, "type": "VEC3"})
        d["meshes"][0]["primitives"][0]["targets"][0]["POSITION"] = len(d["accessors"]) - 1

    expect_error(edited(parts, "1.0", wrong_count), "count", "needs 5152")

    def many_targets(d: dict) -> None:
        for prim in d["meshes"][0]["primitives"]:
            prim["targets"] = [{}] * 20_000

    expect_error(edited(parts, "1.0", many_targets), "targets", "over the 10000 limit")
