"""The manifest's data: its field names, the parsed `Manifest`, and the `CharacterJob`s it expands to.

These are plain frozen dataclasses so they pickle to worker processes (Ray, Slurm, the local
pool) and compare equal when a run is planned twice (resume checks that nothing moved).
Parsing and checking live in render/manifest/parse.py, expansion in render/manifest/expand.py;
render/manifest/__init__.py is the public entry point re-exporting all of it.

The key tuples are the schema's names: the parsers allow exactly these, `to_dict` writes them,
and tests/render/test_manifest.py checks manifests/schema.yaml against them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thagen.render.identity.plan import IdentityOptions, JobIdentity
from thagen.render.manifest.licenses import LicenseOptions
from thagen.render.poses.sample_images import ImageSpec
from thagen.render.poses.sampling import PoseSpec, resolve_rest_pose, sample_poses
from thagen.render.poses.vector_sampling import VectorPoseSpec, sample_vector_poses, vector_rest_pose

if TYPE_CHECKING:
    from thagen.rigs.model import Model

MANIFEST_VERSION = 1
LIGHTING_PRESETS = ("phong", "toon", "point")
ENGINES = ("cycles", "eevee", "workbench")  # render/scene/engines.py
# The lighting presets each engine can render: EEVEE runs the node trees themselves; Workbench
# rebuilds only phong (texture colour x its studio light, render/scene/studio_light.py).
ENGINE_PRESETS = {"cycles": LIGHTING_PRESETS, "eevee": LIGHTING_PRESETS, "workbench": ("phong",)}
# `samples` when the manifest gives none: Cycles' samples per pixel, EEVEE's TAA samples,
# Workbench's anti-aliasing samples; each the fewest whose edges agree with Cycles at 16 spp
# (bench/engines.py, docs/rendering.md "Engines").
DEFAULT_SAMPLES = {"cycles": 4, "eevee": 16, "workbench": 5}
DEVICES = ("cpu", "gpu")
DEFAULT_POSES_PER_CHARACTER = 100
DEFAULT_SHARD_SIZE = 1000
DEFAULT_IMAGE_SIZE = 256

TOP_KEYS = (
    "version",
    "name",
    "description",
    "seed",
    "split_seed",
    "output",
    "annotations",
    "image_size",
    "render",
    "lighting",
    "rest_pose",
    "pose_sampling",
    "poses_per_character",
    "shard_size",
    "characters",
    "splits",
    "qa",
    "identity",
    "pose_vector",
    "required_parameters",
    "vector_motion",
    "framing_preset",
    "images",
    "licenses",
)
RENDER_KEYS = ("engine", "device", "samples", "adaptive")
LIGHTING_KEYS = ("preset", "ambient", "diffuse", "ambient_range")
CHARACTER_KEYS = (
    "path",
    "glob",
    "zip",
    "member",
    "builtin",
    "rig_override",
    "annotation",
    "lighting",
    "poses",
    "split",
)
SPLIT_KEYS = ("ratio", "characters", "poses", "poses_per_character")
QA_KEYS = ("exclude_flagged",)
DIST_KEYS = {
    "uniform": ("dist", "low", "high", "snap"),
    "fixed": ("dist", "value", "snap"),
    "beta": ("dist", "a", "b", "low", "high", "snap"),
    "tha1_linear": ("dist", "low", "high", "snap"),
}


@dataclass(frozen=True)
class Lighting:
    """phong: THA1's white directional light along the view + ambient (emission shading);
    toon: the model's own toon shading; point: DMV-style point lights. `ambient_range`, when
    set, replaces `ambient` by a per-image value drawn uniformly from it."""

    preset: str = "phong"
    ambient: float = 0.5
    diffuse: float = 0.5
    ambient_range: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "ambient": self.ambient,
            "diffuse": self.diffuse,
            "ambient_range": list(self.ambient_range) if self.ambient_range else None,
        }


@dataclass(frozen=True)
class RenderSettings:
    """Blender settings shared by every image of a run (Cycles on the CPU is what CI renders).

    `adaptive` (Cycles only) is written only when on, so outputs rendered before it existed
    compare equal on resume."""

    engine: str = "cycles"
    device: str = "cpu"
    samples: int = 4
    adaptive: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"engine": self.engine, "device": self.device, "samples": self.samples}
        if self.adaptive:
            out["adaptive"] = True
        return out


@dataclass(frozen=True)
class QAOptions:
    """What happens to characters QA flagged (render/character/qa_checks.py): with
    `exclude_flagged` (the default) a hard flag (render/character/flags.py) holds the character
    back, its shards in OUT/excluded/<split>/; false keeps every character in its split."""

    exclude_flagged: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"exclude_flagged": self.exclude_flagged}


@dataclass(frozen=True)
class CharacterEntry:
    """One `characters` item: exactly one of path / glob / zip / builtin, plus overrides."""

    index: int
    path: str | None = None
    glob: str | None = None
    zip: str | None = None
    member: str | None = None
    builtin: bool = False
    rig_override: str | None = None
    annotation: str | None = None
    lighting: Mapping[str, Any] = field(default_factory=dict)  # partial Lighting override
    poses: int | None = None
    split: str | None = None

    @property
    def field_path(self) -> str:
        return f"characters[{self.index}]"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in CHARACTER_KEYS:
            value = getattr(self, key)
            if key == "builtin":
                if value:
                    out[key] = True
            elif key == "lighting":
                if value:
                    out[key] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in value.items()}
            elif value is not None:
                out[key] = value
        return out


@dataclass(frozen=True)
class SplitSpec:
    """One `splits` entry: members by ratio and/or by name, and its pose budget."""

    name: str
    ratio: float | None = None
    characters: tuple[str, ...] = ()
    poses: int | None = None  # total for the split, spread exactly over its characters
    poses_per_character: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.ratio is not None:
            out["ratio"] = self.ratio
        if self.characters:
            out["characters"] = list(self.characters)
        if self.poses is not None:
            out["poses"] = self.poses
        if self.poses_per_character is not None:
            out["poses_per_character"] = self.poses_per_character
        return out


# a manifest without `splits`: every character in train
DEFAULT_SPLITS = (SplitSpec("train", ratio=1.0),)


@dataclass(frozen=True)
class Manifest:
    path: Path  # the manifest file (absolute); relative paths in it resolve from its folder
    version: int = MANIFEST_VERSION
    name: str = ""
    description: str = ""
    seed: int = 0
    split_seed: int | None = None
    output: str = ""
    annotations: str | None = None  # folder of `<id>.annotation.yaml` files (docs/annotation.md)
    image_size: int = DEFAULT_IMAGE_SIZE
    render: RenderSettings = field(default_factory=RenderSettings)
    lighting: Lighting = field(default_factory=Lighting)
    rest_pose: str | Mapping[str, float] = "tha1"
    pose_sampling: PoseSpec | VectorPoseSpec = field(default_factory=PoseSpec)
    poses_per_character: int = DEFAULT_POSES_PER_CHARACTER
    shard_size: int = DEFAULT_SHARD_SIZE
    characters: tuple[CharacterEntry, ...] = ()
    splits: tuple[SplitSpec, ...] = DEFAULT_SPLITS
    qa: QAOptions = field(default_factory=QAOptions)
    identity: IdentityOptions = field(default_factory=IdentityOptions)
    pose_vector: str = "tha1"  # tha1 | tha2 | tha3 (thagen/pose_vectors.py)
    required_parameters: tuple[str, ...] = ()
    vector_motion: Mapping[str, float] = field(default_factory=dict)
    framing_preset: str = "tha1"  # tha1 | tha3 (render/framing/presets.py)
    images_preset: str = "tha1"  # a preset of render/poses/sample_images.py, or "custom"
    images: tuple[ImageSpec, ...] = ()  # extra images per sample, beyond rest / expr / rot
    licenses: LicenseOptions = field(default_factory=LicenseOptions)  # render/manifest/licenses.py

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def output_dir(self) -> Path:
        return self.resolve(self.output)

    @property
    def annotations_dir(self) -> Path | None:
        return None if self.annotations is None else self.resolve(self.annotations)

    @property
    def effective_split_seed(self) -> int:
        return self.seed if self.split_seed is None else self.split_seed

    @property
    def rest_pose_values(self) -> dict[str, float]:
        """THA1's rest pose values (a fresh dict); extended vectors use `rest_pose_for`."""
        return resolve_rest_pose(self.rest_pose)

    def rest_pose_for(self, character_id: str) -> dict[str, float]:
        """The character's rest pose (THA2's is drawn per character for extended vectors)."""
        if self.pose_vector == "tha1":
            return self.rest_pose_values
        return vector_rest_pose(self.pose_vector, self.rest_pose, self.seed, character_id)

    def resolve(self, relative: str | Path) -> Path:
        p = Path(relative).expanduser()
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    def split(self, name: str) -> SplitSpec:
        for s in self.splits:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The manifest as run, every default filled in (for dataset.yaml provenance).

        Loading this dict back (`parse_manifest`) gives an equal Manifest.
        """
        return {
            "version": self.version,
            "name": self.name,
            "description": self.description,
            "seed": self.seed,
            "split_seed": self.split_seed,
            "output": self.output,
            "annotations": self.annotations,
            "image_size": self.image_size,
            "render": self.render.to_dict(),
            "lighting": self.lighting.to_dict(),
            "rest_pose": self.rest_pose if isinstance(self.rest_pose, str) else dict(self.rest_pose),
            "pose_sampling": self.pose_sampling.to_dict(),
            "poses_per_character": self.poses_per_character,
            "shard_size": self.shard_size,
            "characters": [c.to_dict() for c in self.characters],
            "splits": {s.name: s.to_dict() for s in self.splits},
            "qa": self.qa.to_dict(),
            "identity": self.identity.to_dict(),
            # extended-vector fields only when used, so THA1 provenance stays byte for byte
            **({"pose_vector": self.pose_vector} if self.pose_vector != "tha1" else {}),
            **({"required_parameters": list(self.required_parameters)} if self.required_parameters else {}),
            **({"vector_motion": dict(self.vector_motion)} if self.vector_motion else {}),
            **({"framing_preset": self.framing_preset} if self.framing_preset != "tha1" else {}),
            **(
                {
                    "images": self.images_preset
                    if self.images_preset != "custom"
                    else [s.to_dict() for s in self.images]
                }
                if self.images_preset != "tha1"
                else {}
            ),
            **({"licenses": self.licenses.to_dict()} if self.licenses != LicenseOptions() else {}),
        }


@dataclass(frozen=True)
class CharacterJob:
    """Everything a worker needs to render one character (plain data: picklable)."""

    id: str
    sha256: str
    model_path: Path | None  # .pmx/.pmd, or the .zip holding it; None for the built-in character
    zip_member: str | None
    builtin: bool
    override_path: Path | None
    annotation_path: Path | None
    split: str
    pose_count: int
    lighting: Lighting
    seed: int  # the manifest seed: poses come from (seed, id)
    pose_spec: PoseSpec | VectorPoseSpec  # VectorPoseSpec for pose_vector tha2 / tha3
    rest_pose: Mapping[str, float]
    image_size: int
    render: RenderSettings
    shard_size: int
    output_dir: Path
    source: str  # which manifest entry found it, for messages: "manifest.yaml: characters[3]"
    identity: JobIdentity | None = None  # its identity group and the duplicates it stands for
    pose_vector: str = "tha1"
    required_parameters: tuple[str, ...] = ()
    vector_motion: Mapping[str, float] = field(default_factory=dict)
    images: tuple[ImageSpec, ...] = ()
    framing_preset: str = "tha1"
    license: Mapping[str, Any] | None = None  # its license record, compact (render/manifest/licenses.py)

    def poses(self) -> list[dict[str, float]]:
        """The character's pose dicts (with "ambient" when the lighting has an ambient range)."""
        if isinstance(self.pose_spec, VectorPoseSpec):
            return sample_vector_poses(
                self.pose_spec, self.seed, self.id, self.pose_count, ambient_range=self.lighting.ambient_range
            )
        return sample_poses(
            self.pose_spec, self.seed, self.id, self.pose_count, ambient_range=self.lighting.ambient_range
        )

    @property
    def shard_count(self) -> int:
        return max(1, math.ceil(self.pose_count / self.shard_size))

    def shard_ranges(self) -> list[range]:
        """Sample indices of each of the character's shards (`<id>-<k:04d>.tar`)."""
        return [
            range(k * self.shard_size, min(self.pose_count, (k + 1) * self.shard_size))
            for k in range(self.shard_count)
        ]

    def load_model(self, cache_dir: str | Path | None = None) -> Model:
        """The character's Model (reads the file, the zip member, or builds the built-in one)."""
        if self.builtin:
            from thagen.rigs.builtin import builtin_character

            return builtin_character()
        from thagen.rigs.reader import read_model

        return read_model(
            self.model_file(),
            member=self.zip_member,
            cache_dir=None if cache_dir is None else Path(cache_dir),
        )

    def model_file(self) -> Path:
        """`model_path` of a job that is not the built-in character (ValueError if it has none)."""
        if self.model_path is None:
            raise ValueError(f"{self.source}: {self.id} is not the built-in character but has no model_path")
        return self.model_path
