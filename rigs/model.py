"""The in-memory MMD model: plain numpy arrays shared by PMX and PMD.

Everything downstream (Blender import, rig normalization, annotation) reads this and
never the file formats, so a new format (VRM later) only needs a reader that fills it.
Coordinates stay in MMD's own frame (left-handed, Y up, MMD units); the Blender importer
converts. Index fields use -1 for "none", whatever sentinel the file used.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from thagen.rigs.vrm_info import VrmInfo


class DeformType(enum.IntEnum):
    BDEF1 = 0
    BDEF2 = 1
    BDEF4 = 2
    SDEF = 3
    QDEF = 4


class MorphKind(enum.IntEnum):
    GROUP = 0
    VERTEX = 1
    BONE = 2
    UV = 3
    UV_EXT1 = 4
    UV_EXT2 = 5
    UV_EXT3 = 6
    UV_EXT4 = 7
    MATERIAL = 8
    FLIP = 9
    IMPULSE = 10


class BoneFlag(enum.IntFlag):
    """PMX bone flags (PMD bones are translated into these)."""

    TAIL_IS_BONE = 0x0001
    ROTATABLE = 0x0002
    TRANSLATABLE = 0x0004
    VISIBLE = 0x0008
    ENABLED = 0x0010
    IK = 0x0020
    INHERIT_ROTATION = 0x0100
    INHERIT_TRANSLATION = 0x0200
    FIXED_AXIS = 0x0400
    LOCAL_AXES = 0x0800
    PHYSICS_AFTER_DEFORM = 0x1000
    EXTERNAL_PARENT = 0x2000


class MaterialFlag(enum.IntFlag):
    DOUBLE_SIDED = 0x01
    GROUND_SHADOW = 0x02
    SELF_SHADOW_MAP = 0x04
    SELF_SHADOW = 0x08
    EDGE = 0x10
    VERTEX_COLOR = 0x20  # PMX 2.1
    POINT_DRAW = 0x40  # PMX 2.1
    LINE_DRAW = 0x80  # PMX 2.1


def _values_equal(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        return (
            a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        )
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_values_equal(x, y) for x, y in zip(a, b))
    return a == b


class ArrayEq:
    """Mixin: dataclass equality that compares numpy fields by value (shape, dtype, data)."""

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return NotImplemented
        return all(_values_equal(getattr(self, f.name), getattr(other, f.name)) for f in fields(self))  # type: ignore[arg-type]

    __hash__ = None  # type: ignore[assignment]


@dataclass(eq=False)
class Material(ArrayEq):
    name: str
    name_en: str = ""
    diffuse: np.ndarray = field(default_factory=lambda: np.ones(4, np.float32))  # RGBA
    specular: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    specular_power: float = 0.0
    ambient: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    flags: int = 0  # MaterialFlag
    edge_color: np.ndarray = field(default_factory=lambda: np.array([0, 0, 0, 1], np.float32))
    edge_size: float = 1.0
    texture: int = -1  # index into Model.textures
    sphere_texture: int = -1
    sphere_mode: int = 0  # 0 off, 1 multiply, 2 add, 3 additional-UV sub-texture
    toon_shared: bool = False  # True: toon_index is MMD's shared toon01..toon10 (0..9)
    toon_index: int = -1  # shared 0..9, or an index into Model.textures, or -1
    comment: str = ""
    face_start: int = 0  # first triangle (not index) of this material
    face_count: int = 0  # number of triangles

    @property
    def double_sided(self) -> bool:
        return bool(self.flags & MaterialFlag.DOUBLE_SIDED)


@dataclass(eq=False)
class IKLink(ArrayEq):
    bone: int
    limit_min: np.ndarray | None = None  # (3,) radians, None when the link has no limit
    limit_max: np.ndarray | None = None


@dataclass(eq=False)
class IK(ArrayEq):
    target: int
    loop_count: int
    limit_angle: float  # radians
    links: list[IKLink] = field(default_factory=list)


@dataclass(eq=False)
class Bone(ArrayEq):
    name: str
    name_en: str = ""
    position: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    parent: int = -1
    layer: int = 0
    flags: int = int(BoneFlag.ROTATABLE | BoneFlag.VISIBLE | BoneFlag.ENABLED)
    tail_bone: int = -1  # used when flags has TAIL_IS_BONE
    tail_offset: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    inherit_parent: int = -1  # used with INHERIT_ROTATION / INHERIT_TRANSLATION
    inherit_weight: float = 0.0
    fixed_axis: np.ndarray | None = None
    local_x: np.ndarray | None = None
    local_z: np.ndarray | None = None
    external_key: int | None = None
    ik: IK | None = None


@dataclass(eq=False)
class Morph(ArrayEq):
    """One morph. The meaning of `indices` and `values` depends on `kind`:

    - VERTEX: indices = vertex indices (K,), values = position offsets (K, 3)
    - UV, UV_EXT1..4: indices = vertex indices (K,), values = uv offsets (K, 4)
    - BONE: indices = bone indices (K,), values = (K, 7): translation xyz + quaternion xyzw
    - GROUP, FLIP: indices = morph indices (K,), values = weights (K,)
    - IMPULSE: indices = rigid-body indices (K,), values = (K, 7): local flag, velocity xyz, torque xyz
    - MATERIAL: indices = material indices (K,; -1 = all), values = (K, 29): op (0 mul, 1 add),
      diffuse 4, specular 3, specular power, ambient 3, edge colour 4, edge size,
      texture tint 4, sphere tint 4, toon tint 4
    """

    name: str
    name_en: str = ""
    panel: int = 0  # 0 system, 1 eyebrow, 2 eye, 3 mouth, 4 other
    kind: int = MorphKind.VERTEX
    indices: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    values: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))


@dataclass(eq=False)
class DisplayFrame(ArrayEq):
    name: str
    name_en: str = ""
    special: bool = False
    items: list[tuple[int, int]] = field(default_factory=list)  # (0 bone / 1 morph, index)


@dataclass(eq=False)
class RigidBody(ArrayEq):
    name: str
    name_en: str = ""
    bone: int = -1
    group: int = 0
    no_collide_mask: int = 0
    shape: int = 0  # 0 sphere, 1 box, 2 capsule
    size: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    position: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    rotation: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))  # radians
    mass: float = 0.0
    linear_damping: float = 0.0
    angular_damping: float = 0.0
    restitution: float = 0.0
    friction: float = 0.0
    mode: int = 0  # 0 follow bone, 1 physics, 2 physics + bone


@dataclass(eq=False)
class Joint(ArrayEq):
    name: str
    name_en: str = ""
    kind: int = 0  # 0 spring 6DOF (PMX 2.1 adds 1..5)
    body_a: int = -1
    body_b: int = -1
    position: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    rotation: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    linear_min: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    linear_max: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    angular_min: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    angular_max: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    spring_linear: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    spring_angular: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))

    # the eight 3-vectors, in the order both file formats store them
    VECTOR_FIELDS = (
        "position",
        "rotation",
        "linear_min",
        "linear_max",
        "angular_min",
        "angular_max",
        "spring_linear",
        "spring_angular",
    )

    def vectors(self) -> list[np.ndarray]:
        return [getattr(self, name) for name in self.VECTOR_FIELDS]

    def set_vectors(self, rows: np.ndarray) -> None:
        """Set the eight vectors from an (8, 3) array (copied, float32)."""
        for name, row in zip(self.VECTOR_FIELDS, np.asarray(rows, np.float32).reshape(8, 3)):
            setattr(self, name, row.copy())


@dataclass(eq=False)
class SoftBody(ArrayEq):
    """PMX 2.1 soft body, kept whole so the writer can round-trip it; thagen does not simulate it."""

    name: str
    name_en: str = ""
    shape: int = 0
    material: int = -1
    group: int = 0
    no_collide_mask: int = 0
    flags: int = 0
    b_link_distance: int = 0
    clusters: int = 0
    total_mass: float = 0.0
    margin: float = 0.0
    aero_model: int = 0
    config: np.ndarray = field(default_factory=lambda: np.zeros(12, np.float32))
    cluster: np.ndarray = field(default_factory=lambda: np.zeros(6, np.float32))
    iteration: np.ndarray = field(default_factory=lambda: np.zeros(4, np.int32))
    material_params: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    anchors: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int32))  # body, vertex, near
    pins: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))


@dataclass(eq=False)
class Model(ArrayEq):
    """A whole MMD model. Per-vertex data are parallel arrays of length N."""

    format: str = "pmx"  # "pmx", "pmd" or "vrm"
    version: float = 2.0
    encoding: str = "utf-16-le"  # "utf-16-le", "utf-8" or "cp932"
    name: str = ""
    name_en: str = ""
    comment: str = ""
    comment_en: str = ""
    # vertices
    positions: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))
    normals: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))
    uvs: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    extra_uvs: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 4), np.float32))  # (N, k, 4)
    deform_types: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))  # DeformType
    bone_indices: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int32))  # -1 padded
    bone_weights: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    sdef: np.ndarray = field(default_factory=lambda: np.zeros((0, 3, 3), np.float32))  # C, R0, R1
    edge_scales: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    # faces (triangles, vertex indices) and the rest
    faces: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int32))
    textures: list[str] = field(default_factory=list)  # paths exactly as stored in the file
    materials: list[Material] = field(default_factory=list)
    bones: list[Bone] = field(default_factory=list)
    morphs: list[Morph] = field(default_factory=list)
    display_frames: list[DisplayFrame] = field(default_factory=list)
    rigid_bodies: list[RigidBody] = field(default_factory=list)
    joints: list[Joint] = field(default_factory=list)
    soft_bodies: list[SoftBody] = field(default_factory=list)
    # VRM only: humanoid map, expressions, MToon (rigs/vrm_info.py); None for PMX/PMD
    vrm: VrmInfo | None = None
    # where it came from (not compared by ==, not written)
    source_path: Path | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Model):
            return NotImplemented
        return all(
            _values_equal(getattr(self, f.name), getattr(other, f.name))
            for f in fields(self)
            if f.name != "source_path"
        )

    __hash__ = None

    @property
    def vertex_count(self) -> int:
        return int(self.positions.shape[0])

    @property
    def face_count(self) -> int:
        return int(self.faces.shape[0])

    def bone_index(self, name: str) -> int:
        """Index of the first bone with this exact name, or -1."""
        for i, bone in enumerate(self.bones):
            if bone.name == name:
                return i
        return -1

    def morph_index(self, name: str) -> int:
        """Index of the first morph with this exact name, or -1."""
        for i, morph in enumerate(self.morphs):
            if morph.name == name:
                return i
        return -1

    def material_face_ranges(self) -> np.ndarray:
        """(n_materials, 2) array of [first triangle, triangle count]."""
        return np.array([[m.face_start, m.face_count] for m in self.materials], np.int64).reshape(-1, 2)
