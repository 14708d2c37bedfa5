"""Write a `Model` as VRM 0.x or VRM 1.0 (GLB), so tests have VRM files whose truth is known.

What is written: vertices (positions, normals, UVs, 4 joints / weights), one primitive per
material sharing the mesh's vertex accessors (as UniVRM writes), every VERTEX morph as a
morph target (named in `mesh.extras.targetNames`), bones as a node tree with a skin whose
inverse-bind matrices match the rest pose, materials (base colour, texture, double-sided, an
MToon shade colour), images embedded in the BIN chunk, a humanoid map and expressions.
Coordinates are converted from MMD's frame with the reader's axes (rigs/formats/vrm/reader.py), so reading
the file back gives the same vertex / face / bone / morph arrays within float tolerance.

Not written (VRM has no place for them): PMX display frames, rigid bodies, joints, IK,
edge settings, sphere / toon textures as such, non-VERTEX morphs, English names.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict, Unpack

import numpy as np

from thagen.rigs.coordinates import MMD_SCALE
from thagen.rigs.formats.gltf.container import CHUNK_BIN, CHUNK_JSON, GLB_MAGIC
from thagen.rigs.formats.vrm.expressions import VRM0_PRESETS
from thagen.rigs.formats.vrm.reader import AXES
from thagen.rigs.model import Model, MorphKind

VRM0_PRESET_OF = {v: k for k, v in VRM0_PRESETS.items()}
VRM0_GROUP_NAMES = {"aa": "A", "ih": "I", "ou": "U", "ee": "E", "oh": "O", "blink": "Blink",
                    "blinkLeft": "Blink_L", "blinkRight": "Blink_R", "happy": "Joy", "angry": "Angry",
                    "sad": "Sorrow", "relaxed": "Fun", "neutral": "Neutral"}  # fmt: skip


class _Bin:
    """The GLB BIN chunk being built: buffer views and accessors appended in order."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def view(self, raw: bytes) -> int:
        self.data += b"\x00" * (-len(self.data) % 4)
        self.views.append({"buffer": 0, "byteOffset": len(self.data), "byteLength": len(raw)})
        self.data += raw
        return len(self.views) - 1

    def accessor(self, array: np.ndarray, kind: str, ctype: int, *, bounds: bool = False) -> int:
        arr = np.ascontiguousarray(array)
        acc: dict[str, Any] = {
            "bufferView": self.view(arr.tobytes()),
            "componentType": ctype,
            "count": int(arr.shape[0]),
            "type": kind,
        }
        if bounds:
            acc["min"] = arr.min(axis=0).astype(float).tolist()
            acc["max"] = arr.max(axis=0).astype(float).tolist()
        self.accessors.append(acc)
        return len(self.accessors) - 1


class VrmOptions(TypedDict, total=False):
    """`vrm_bytes`'s keyword options, as `write_vrm` forwards them."""

    images: Mapping[str, bytes] | None
    presets: Mapping[str, str] | None
    humanoid: Mapping[str, str] | None
    binary: set[str] | frozenset[str]
    alpha: Mapping[str, tuple[str, float]] | None


def vrm_bytes(
    model: Model,
    version: str = "1.0",
    *,
    images: Mapping[str, bytes] | None = None,
    presets: Mapping[str, str] | None = None,
    humanoid: Mapping[str, str] | None = None,
    binary: set[str] | frozenset[str] = frozenset(),
    alpha: Mapping[str, tuple[str, float]] | None = None,
) -> bytes:
    """GLB bytes of `model` as VRM `version` ("0.x" or "1.0").

    `images`: encoded image bytes per `model.textures` entry (embedded; others become URIs).
    `presets`: morph name -> VRM 1.0 preset key; every other VERTEX morph is a custom expression.
    `humanoid`: VRM 1.0 humanoid key -> bone name. `binary`: morph names marked isBinary.
    `alpha`: material name -> (alphaMode, alphaCutoff); others are written OPAQUE.
    """
    if version not in ("0.x", "1.0"):
        raise ValueError(f"version must be '0.x' or '1.0', not {version!r}")
    axes = AXES[version]
    presets = dict(presets or {})
    humanoid = dict(humanoid or {})
    out = _Bin()
    to_gltf = axes * MMD_SCALE
    n = model.vertex_count

    # nodes: bones in model order, then the mesh node
    world = np.array([b.position for b in model.bones], np.float64).reshape(-1, 3) * to_gltf
    nodes: list[dict[str, Any]] = []
    for i, bone in enumerate(model.bones):
        parent_pos = world[bone.parent] if bone.parent >= 0 else np.zeros(3)
        node: dict[str, Any] = {"name": bone.name, "translation": (world[i] - parent_pos).tolist()}
        kids = [j for j, b in enumerate(model.bones) if b.parent == i]
        if kids:
            node["children"] = kids
        nodes.append(node)
    mesh_node = len(nodes)
    nodes.append({"name": f"{model.name or 'model'}_mesh", "mesh": 0, "skin": 0})
    roots = [i for i, b in enumerate(model.bones) if b.parent < 0] + [mesh_node]
    ibm = np.tile(np.eye(4, dtype=np.float32), (len(model.bones), 1, 1))
    ibm[:, :3, 3] = -world
    skin = {
        "joints": list(range(len(model.bones))),
        "inverseBindMatrices": out.accessor(ibm.transpose(0, 2, 1).reshape(-1, 16), "MAT4", 5126),
    }

    # vertex attributes shared by every primitive
    joints = np.where(model.bone_indices >= 0, model.bone_indices, 0).astype(np.uint16)
    weights = np.where(model.bone_indices >= 0, model.bone_weights, 0).astype(np.float32)
    attrs = {
        "POSITION": out.accessor((model.positions * to_gltf).astype(np.float32), "VEC3", 5126, bounds=True),
        "NORMAL": out.accessor((model.normals * axes).astype(np.float32), "VEC3", 5126),
        "TEXCOORD_0": out.accessor(model.uvs.astype(np.float32), "VEC2", 5126),
        "JOINTS_0": out.accessor(joints, "VEC4", 5123),
        "WEIGHTS_0": out.accessor(weights, "VEC4", 5126),
    }
    vertex_morphs = [i for i, m in enumerate(model.morphs) if m.kind == MorphKind.VERTEX]
    targets = []
    for i in vertex_morphs:
        m = model.morphs[i]
        dense = np.zeros((n, 3), np.float32)
        dense[m.indices] = m.values * to_gltf
        targets.append({"POSITION": out.accessor(dense, "VEC3", 5126, bounds=True)})
    primitives = []
    for mi, mat in enumerate(model.materials):
        faces = model.faces[mat.face_start : mat.face_start + mat.face_count][:, ::-1]
        prim: dict[str, Any] = {
            "attributes": attrs,
            "indices": out.accessor(faces.reshape(-1).astype(np.uint32), "SCALAR", 5125),
            "material": mi,
            "mode": 4,
        }
        if targets:
            prim["targets"] = targets
        primitives.append(prim)
    mesh: dict[str, Any] = {"name": model.name or "mesh", "primitives": primitives}
    if targets:
        mesh["extras"] = {"targetNames": [model.morphs[i].name for i in vertex_morphs]}

    doc: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": "thagen vrm_writer"},
        "scene": 0,
        "scenes": [{"name": model.name, "nodes": roots}],
        "nodes": nodes,
        "meshes": [mesh],
        "skins": [skin],
    }
    _materials_and_images(doc, model, out, images or {}, version, alpha or {})
    expressions = _expressions(model, vertex_morphs, presets, binary)
    bone_node = {b.name: i for i, b in enumerate(model.bones)}
    human = {key: bone_node[name] for key, name in humanoid.items() if name in bone_node}
    if version == "1.0":
        doc["extensionsUsed"] = ["VRMC_vrm", "VRMC_materials_mtoon"]
        doc["extensions"] = {"VRMC_vrm": _vrm1_extension(model, human, expressions, mesh_node)}
    else:
        doc["extensionsUsed"] = ["VRM"]
        doc["extensions"] = {"VRM": _vrm0_extension(model, human, expressions)}
    doc["bufferViews"] = out.views
    doc["accessors"] = out.accessors
    doc["buffers"] = [{"byteLength": len(out.data)}]
    return _glb(doc, bytes(out.data))


def _materials_and_images(
    doc: dict,
    model: Model,
    out: _Bin,
    images: Mapping[str, bytes],
    version: str,
    alpha: Mapping[str, tuple[str, float]],
) -> None:
    doc["images"] = []
    for stored in model.textures:
        if stored in images:
            doc["images"].append(
                {"name": stored, "bufferView": out.view(images[stored]), "mimeType": "image/png"}
            )
        else:
            doc["images"].append({"name": stored, "uri": stored.replace("\\", "/")})
    doc["samplers"] = [{"magFilter": 9729, "minFilter": 9729}]
    doc["textures"] = [{"source": i, "sampler": 0} for i in range(len(model.textures))]
    materials = []
    props = []
    for mat in model.materials:
        pbr: dict[str, Any] = {"baseColorFactor": [float(v) for v in mat.diffuse], "metallicFactor": 0.0}
        if mat.texture >= 0:
            pbr["baseColorTexture"] = {"index": int(mat.texture)}
        shade = [float(v) for v in np.clip(mat.diffuse[:3] * 0.8, 0, 1)]
        entry: dict[str, Any] = {
            "name": mat.name,
            "pbrMetallicRoughness": pbr,
            "doubleSided": mat.double_sided,
        }
        if mat.name in alpha:
            entry["alphaMode"], entry["alphaCutoff"] = alpha[mat.name]
        if version == "1.0":
            entry["extensions"] = {
                "VRMC_materials_mtoon": {
                    "specVersion": "1.0",
                    "shadeColorFactor": shade,
                    "shadingToonyFactor": 0.9,
                    "shadingShiftFactor": 0.0,
                }
            }
        else:
            props.append(
                {
                    "name": mat.name,
                    "shader": "VRM/MToon",
                    "floatProperties": {"_ShadeToony": 0.9, "_ShadeShift": 0.0},
                    "vectorProperties": {
                        "_Color": [float(v) for v in mat.diffuse],
                        "_ShadeColor": shade + [1.0],
                    },
                    "textureProperties": {"_MainTex": int(mat.texture)} if mat.texture >= 0 else {},
                }
            )
        materials.append(entry)
    doc["materials"] = materials
    doc["_vrm0_material_properties"] = props


def _expressions(
    model: Model, vertex_morphs: list[int], presets: Mapping[str, str], binary: set[str] | frozenset[str]
) -> list[tuple[str, str, int, bool]]:
    """(name, preset or "", target index, isBinary) per VERTEX morph."""
    out = []
    for target, i in enumerate(vertex_morphs):
        m = model.morphs[i]
        preset = presets.get(m.name, "")
        name = preset or (m.name_en or m.name)
        out.append((name, preset, target, m.name in binary))
    return out


def _vrm1_extension(model: Model, human: dict[str, int], expressions: list, mesh_node: int) -> dict[str, Any]:
    preset: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for name, key, target, is_binary in expressions:
        spec = {
            "morphTargetBinds": [{"node": mesh_node, "index": target, "weight": 1.0}],
            "isBinary": is_binary,
        }
        (preset if key else custom)[key or name] = spec
    return {
        "specVersion": "1.0",
        "meta": {"name": model.name, "authors": ["thagen"], "licenseUrl": "https://vrm.dev/licenses/1.0/"},
        "humanoid": {"humanBones": {key: {"node": node} for key, node in human.items()}},
        "expressions": {"preset": preset, "custom": custom},
    }


def _vrm0_extension(model: Model, human: dict[str, int], expressions: list) -> dict[str, Any]:
    groups = []
    for name, key, target, is_binary in expressions:
        groups.append(
            {
                "name": VRM0_GROUP_NAMES.get(key, name) if key else name,
                "presetName": VRM0_PRESET_OF.get(key, "unknown"),
                "binds": [{"mesh": 0, "index": target, "weight": 100.0}],
                "materialValues": [],
                "isBinary": is_binary,
            }
        )
    return {
        "specVersion": "0.0",
        "meta": {"title": model.name, "author": "thagen"},
        "humanoid": {"humanBones": [{"bone": key, "node": node} for key, node in human.items()]},
        "blendShapeMaster": {"blendShapeGroups": groups},
    }


def _glb(doc: dict[str, Any], binary: bytes) -> bytes:
    props = doc.pop("_vrm0_material_properties", [])
    if "VRM" in doc.get("extensions", {}):
        doc["extensions"]["VRM"]["materialProperties"] = props
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    binary += b"\x00" * (-len(binary) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    return b"".join(
        [
            struct.pack("<4sII", GLB_MAGIC, 2, total),
            struct.pack("<II", len(text), CHUNK_JSON),
            text,
            struct.pack("<II", len(binary), CHUNK_BIN),
            binary,
        ]
    )


def write_vrm(model: Model, path: str | Path, version: str = "1.0", **options: Unpack[VrmOptions]) -> Path:
    """Write `vrm_bytes(model, version, **options)` to `path` atomically (temp name, fsync, rename)."""
    path = Path(path)
    data = vrm_bytes(model, version, **options)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
