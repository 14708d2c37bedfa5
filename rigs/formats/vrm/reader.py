"""VRM 0.x (`VRM` extension) and VRM 1.0 (`VRMC_vrm`) reader: glTF 2.0 -> `Model`.

Coordinates. glTF is right-handed, Y up, metres. A VRM 1.0 avatar faces +Z with its own left
at +X; a VRM 0.x avatar faces -Z with its left at -X (UniVRM 0.x flipped Z on export). `Model`
keeps MMD's frame (faces -Z, the character's left at +X, 1 unit = 8 cm), so

    VRM 1.0 / plain glTF:  mmd = ( x, y, -z) / MMD_SCALE
    VRM 0.x:               mmd = (-x, y,  z) / MMD_SCALE

Both are reflections, so every triangle's winding is reversed to keep its right-handed normal
pointing out, as MMD files store it. After this the wink-side check, the blink mid-plane split
and framing work on a VRM exactly as on a PMX.

Geometry. Each mesh node's primitives are put in their rest pose (skinned: the weighted
joint-world x inverse-bind matrices, so a bind pose that differs from the node rest pose is
baked; unskinned: the node's world matrix). Primitives sharing the same attribute accessors
(UniVRM writes one vertex buffer per mesh) share one vertex block. One Model material per
primitive. Morph targets become VERTEX morphs named by `extras.targetNames`; every VRM
expression becomes a VERTEX morph summing them with its bind weights (0.x weights / 100).
Material colour and texture-transform binds are counted in `Model.vrm`, not applied.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from thagen.rigs.coordinates import MMD_SCALE
from thagen.rigs.formats.gltf.container import Gltf, parse_gltf
from thagen.rigs.formats.gltf.nodes import node_parents, world_matrices
from thagen.rigs.formats.vrm.expressions import read_expressions, read_meta
from thagen.rigs.formats.vrm.geometry import read_geometry
from thagen.rigs.formats.vrm.materials import read_textures
from thagen.rigs.formats.vrm.pose import ARM_DEGREES, lower_arms
from thagen.rigs.model import Bone, BoneFlag, Model
from thagen.rigs.vrm_info import VrmInfo

# axis signs from glTF to MMD per spec version (a reflection either way)
AXES = {"1.0": np.array([1.0, 1.0, -1.0]), "0.x": np.array([-1.0, 1.0, 1.0]), "": np.array([1.0, 1.0, -1.0])}


def spec_version(g: Gltf) -> str:
    ext = g.doc.get("extensions", {})
    if not isinstance(ext, dict):
        raise g.error("must be an object", "extensions")
    if "VRMC_vrm" in ext:
        return "1.0"
    if "VRM" in ext:
        return "0.x"
    return ""


def read_vrm(
    data: bytes,
    name: str = "<bytes>",
    base_dir: Path | None = None,
    *,
    lower_arm_degrees: float = ARM_DEGREES,
) -> Model:
    """Parse a .vrm / .glb / .gltf held in `data`; `base_dir` (the model's folder) allows external files.

    `lower_arm_degrees`: the T-pose's upper arms are turned down this much (rigs/formats/vrm/pose.py); 0 keeps
    the file's pose.
    """
    g = parse_gltf(data, name, base_dir)
    version = spec_version(g)
    axes = AXES[version]
    parents = node_parents(g)
    world = world_matrices(g, parents)
    nodes = g.array("nodes")
    humanoid_nodes = _humanoid_nodes(g, version)
    skins = g.array("skins")
    joint_nodes: set[int] = set()
    for si in range(len(skins)):
        joint_nodes.update(_skin_joints(g, si))
    is_bone = np.array(
        [("mesh" not in n) or bool(n.get("children")) or i in joint_nodes or i in humanoid_nodes.values()
         for i, n in enumerate(nodes)], bool
    )  # fmt: skip
    bone_of_node, bones = _bones(g, parents, world, is_bone, axes)
    model = Model(format="vrm", version=1.0 if version == "1.0" else 0.0, encoding="utf-8", bones=bones)
    info = VrmInfo(spec_version=version)
    model.vrm = info
    textures = read_textures(g, model, info)
    targets = read_geometry(g, world, bone_of_node, axes, model, info, textures, version)
    read_expressions(g, version, model, info, targets)
    info.humanoid = {key: int(bone_of_node[node]) for key, node in humanoid_nodes.items()}
    read_meta(g, version, model, info)
    if lower_arm_degrees:
        lower_arms(model, lower_arm_degrees)
    return model


# --------------------------------------------------------------------------- nodes and bones


def _skin_joints(g: Gltf, index: int) -> list[int]:
    skin = g.item("skins", index, f"skins[{index}]")
    joints = skin.get("joints")
    if not isinstance(joints, list) or not joints:
        raise g.error("must be a non-empty array", f"skins[{index}].joints")
    for j, node in enumerate(joints):
        g.item("nodes", node, f"skins[{index}].joints[{j}]")
    return joints


def _bones(
    g: Gltf, parents: np.ndarray, world: np.ndarray, is_bone: np.ndarray, axes: np.ndarray
) -> tuple[np.ndarray, list[Bone]]:
    """Model bones for the bone nodes, in node order; every node's nearest bone (self or ancestor)."""
    nodes = g.array("nodes")
    n = len(nodes)
    if not is_bone.any():
        is_bone = np.zeros(n, bool)
    order = np.flatnonzero(is_bone)
    index_of = np.full(n, -1, np.int64)
    index_of[order] = np.arange(len(order))
    # nearest bone ancestor-or-self, by walking up (depth-bounded: the tree has no cycles)
    nearest = np.where(is_bone, np.arange(n), -1)
    up = parents.copy()
    while np.any((nearest < 0) & (up >= 0)):
        take = (nearest < 0) & (up >= 0)
        nearest[take] = np.where(is_bone[up[take]], up[take], -1)
        up = np.where(take & (nearest < 0), parents[np.maximum(up, 0)], np.where(take, -1, up))
    bone_of_node = np.where(nearest >= 0, index_of[np.maximum(nearest, 0)], -1)
    positions = (world[order, :3, 3] * axes / MMD_SCALE).astype(np.float32)
    bones: list[Bone] = []
    used: set[str] = set()
    for k, node_i in enumerate(order):
        raw = nodes[node_i].get("name")
        name = raw if isinstance(raw, str) and raw else f"node{node_i}"
        if name in used:
            name = f"{name}#{node_i}"
        used.add(name)
        p = int(parents[node_i])
        parent = int(bone_of_node[p]) if p >= 0 else -1
        bones.append(Bone(name=name, name_en=name, position=positions[k], parent=parent))
    children: dict[int, int] = {}
    for k, bone in enumerate(bones):
        if bone.parent >= 0:
            children.setdefault(bone.parent, k)
    for k, bone in enumerate(bones):
        flags = BoneFlag.ROTATABLE | BoneFlag.VISIBLE | BoneFlag.ENABLED
        if k in children:
            flags |= BoneFlag.TAIL_IS_BONE
            bone.tail_bone = children[k]
        else:
            bone.tail_offset = np.array([0.0, 0.5, 0.0], np.float32)
        bone.flags = int(flags)
    if not bones:  # a model with no nodes to hang on: one root bone keeps the importer simple
        bones.append(Bone(name="root", name_en="root", tail_offset=np.array([0.0, 1.0, 0.0], np.float32)))
        bone_of_node = np.zeros(n, np.int64)
    return bone_of_node, bones


def _humanoid_nodes(g: Gltf, version: str) -> dict[str, int]:
    """VRM 1.0 humanoid bone key -> node index (0.x lists are read into the same keys)."""
    ext = g.doc.get("extensions", {})
    out: dict[str, int] = {}
    if version == "1.0":
        human = g.obj(ext["VRMC_vrm"], "extensions.VRMC_vrm").get("humanoid", {})
        bones = g.obj(human, "VRMC_vrm.humanoid").get("humanBones", {})
        for key, spec in g.obj(bones, "VRMC_vrm.humanoid.humanBones").items():
            where = f"VRMC_vrm.humanoid.humanBones.{key}"
            node = g.index("nodes", g.obj(spec, where).get("node"), f"{where}.node")
            g.item("nodes", node, f"{where}.node")
            out[str(key)] = node
    elif version == "0.x":
        human = g.obj(ext["VRM"], "extensions.VRM").get("humanoid", {})
        bones = g.obj(human, "VRM.humanoid").get("humanBones", [])
        if not isinstance(bones, list):
            raise g.error("must be an array", "VRM.humanoid.humanBones")
        for i, spec in enumerate(bones):
            where = f"VRM.humanoid.humanBones[{i}]"
            spec = g.obj(spec, where)
            bone = spec.get("bone")
            if not isinstance(bone, str):
                raise g.error("must be a string", f"{where}.bone")
            node = g.index("nodes", spec.get("node"), f"{where}.node")
            g.item("nodes", node, f"{where}.node")
            out[bone] = node
    return out
