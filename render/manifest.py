"""Render manifests: the YAML schema, its validation, and the expansion into per-character jobs.

A manifest says which characters to render, how many poses each, from which distributions,
with which lighting and render settings. Every field is documented in manifests/README.md.
Mistakes (unknown keys, wrong types, absurd ranges) are ConfigErrors naming the manifest file
and the field path (`characters[2].annotation`), because a silently ignored key would produce
a wrong dataset hours later.

`expand_characters` turns a manifest into `CharacterJob`s: plain picklable records holding
everything a worker process needs to render one character.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from thagen.errors import ArchiveError, ConfigError
from thagen.render import characters as chars
from thagen.render.framing_presets import FRAMING_PRESETS
from thagen.render.identity_plan import (
    IdentityOptions,
    JobIdentity,
    job_identity,
    kept_refs,
    parse_identity_options,
    plan_identity,
    split_by_group,
)
from thagen.render.sample_images import ImageSpec, parse_images
from thagen.render.sampling import (
    DIST_KINDS,
    DOMAINS,
    EXPRESSION_NAMES,
    REST_POSES,
    ParamDist,
    PoseSpec,
    resolve_rest_pose,
    sample_poses,
    tha1_default,
)
from thagen.render.shards import POSE_NAMES
from thagen.render.vector_manifest import (
    parse_framing_preset,
    parse_motion,
    parse_pose_vector,
    parse_required,
    parse_vector_rest,
    parse_vector_sampling,
)
from thagen.render.vector_sampling import VectorPoseSpec, sample_vector_poses, vector_rest_pose

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1
LIGHTING_PRESETS = ("phong", "toon", "point")
ENGINES = ("cycles",)
DEVICES = ("cpu", "gpu")
DEFAULT_POSES_PER_CHARACTER = 100
DEFAULT_SHARD_SIZE = 1000
DEFAULT_IMAGE_SIZE = 256
_SPLIT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

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
)
RENDER_KEYS = ("engine", "device", "samples")
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


# --------------------------------------------------------------------------- dataclasses


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
    engine: str = "cycles"
    device: str = "cpu"
    samples: int = 4

    def to_dict(self) -> dict[str, Any]:
        return {"engine": self.engine, "device": self.device, "samples": self.samples}


@dataclass(frozen=True)
class QAOptions:
    exclude_flagged: bool = False

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
    splits: tuple[SplitSpec, ...] = (SplitSpec("train", ratio=1.0),)
    qa: QAOptions = field(default_factory=QAOptions)
    identity: IdentityOptions = field(default_factory=IdentityOptions)
    pose_vector: str = "tha1"  # tha1 | tha2 | tha3 (render/pose_vectors.py)
    required_parameters: tuple[str, ...] = ()
    vector_motion: Mapping[str, float] = field(default_factory=dict)
    framing_preset: str = "tha1"  # tha1 | tha3 (render/framing_presets.py)
    images_preset: str = "tha1"  # a preset of render/sample_images.py, or "custom"
    images: tuple[ImageSpec, ...] = ()  # extra images per sample, beyond rest / expr / rot

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
    pose_spec: PoseSpec
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

    def load_model(self, cache_dir: str | Path | None = None):
        """The character's Model (reads the file, the zip member, or builds the built-in one)."""
        if self.builtin:
            from thagen.rigs.builtin import builtin_character

            return builtin_character()
        from thagen.rigs.reader import read_model

        return read_model(self.model_path, member=self.zip_member, cache_dir=cache_dir)


# --------------------------------------------------------------------------- YAML + checks


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    out: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in out:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> Any:
    """YAML file -> data; unreadable files, syntax errors and duplicate keys are ConfigErrors."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from exc


class Checker:
    """Type/range checks that raise ConfigError("<file>: <field>: <problem>")."""

    def __init__(self, source: str | Path) -> None:
        self.source = str(source)

    def error(self, field_path: str, message: str) -> ConfigError:
        return ConfigError(
            f"{self.source}: {field_path}: {message}" if field_path else f"{self.source}: {message}"
        )

    def mapping(self, value: Any, where: str, allowed: Iterable[str]) -> dict:
        if not isinstance(value, dict):
            raise self.error(where or "(top level)", f"expected a mapping, got {_type_name(value)}")
        allowed = tuple(allowed)
        for key in value:
            if not isinstance(key, str) or key not in allowed:
                raise self.error(_join(where, str(key)), f"unknown key; allowed here: {', '.join(allowed)}")
        return value

    def integer(self, value: Any, where: str, minimum: int | None = None, maximum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(where, f"expected an integer, got {_type_name(value)} {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(where, f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(where, f"must be <= {maximum}, got {value}")
        return value

    def number(
        self, value: Any, where: str, minimum: float | None = None, maximum: float | None = None
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(where, f"expected a number, got {_type_name(value)} {value!r}")
        v = float(value)
        if not math.isfinite(v):
            raise self.error(where, f"must be finite, got {value!r}")
        if minimum is not None and v < minimum:
            raise self.error(where, f"must be >= {minimum:g}, got {v:g}")
        if maximum is not None and v > maximum:
            raise self.error(where, f"must be <= {maximum:g}, got {v:g}")
        return v

    def string(self, value: Any, where: str, nonempty: bool = True) -> str:
        if not isinstance(value, str):
            raise self.error(where, f"expected a string, got {_type_name(value)} {value!r}")
        if nonempty and not value.strip():
            raise self.error(where, "must not be empty")
        return value

    def boolean(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.error(where, f"expected true or false, got {_type_name(value)} {value!r}")
        return value

    def choice(self, value: Any, where: str, options: Iterable[str]) -> str:
        options = tuple(options)
        if not isinstance(value, str) or value not in options:
            raise self.error(where, f"expected one of {', '.join(options)}, got {value!r}")
        return value

    def range_pair(self, value: Any, where: str, lo: float, hi: float) -> tuple[float, float]:
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise self.error(where, f"expected [low, high], got {value!r}")
        a = self.number(value[0], f"{where}[0]", lo, hi)
        b = self.number(value[1], f"{where}[1]", lo, hi)
        if a > b:
            raise self.error(where, f"low ({a:g}) is greater than high ({b:g})")
        return (a, b)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


# --------------------------------------------------------------------------- section parsers


def _parse_render(c: Checker, data: Any) -> RenderSettings:
    d = c.mapping(data, "render", RENDER_KEYS)
    base = RenderSettings()
    return RenderSettings(
        engine=c.choice(d.get("engine", base.engine), "render.engine", ENGINES),
        device=c.choice(d.get("device", base.device), "render.device", DEVICES),
        samples=c.integer(d.get("samples", base.samples), "render.samples", 1, 65536),
    )


def _parse_lighting_fields(c: Checker, data: Any, where: str) -> dict[str, Any]:
    d = c.mapping(data, where, LIGHTING_KEYS)
    out: dict[str, Any] = {}
    if "preset" in d:
        out["preset"] = c.choice(d["preset"], f"{where}.preset", LIGHTING_PRESETS)
    for key in ("ambient", "diffuse"):
        if key in d:
            out[key] = c.number(d[key], f"{where}.{key}", 0.0, 100.0)
    if "ambient_range" in d:
        value = d["ambient_range"]
        out["ambient_range"] = (
            None if value is None else c.range_pair(value, f"{where}.ambient_range", 0.0, 100.0)
        )
    return out


def _parse_dist(c: Checker, name: str, data: Any) -> ParamDist:
    where = f"pose_sampling.{name}"
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        data = {"dist": "fixed", "value": data}
    if not isinstance(data, dict):
        raise c.error(
            where, f"expected a mapping like {{dist: uniform, low: 0, high: 1}}, got {_type_name(data)}"
        )
    default = tha1_default(name)
    kind = c.choice(data.get("dist", default.kind), f"{where}.dist", DIST_KINDS)
    c.mapping(data, where, DIST_KEYS[kind])
    lo, hi = DOMAINS[name]
    # defaults: the parameter's whole domain
    kwargs: dict[str, float] = {"low": lo, "high": hi}
    for key in ("low", "high", "value", "a", "b"):
        if key in data:
            kwargs[key] = c.number(data[key], f"{where}.{key}")
    if kind == "fixed" and "value" not in data:
        raise c.error(f"{where}.value", "required for dist: fixed")
    if "snap" in data:
        if name not in EXPRESSION_NAMES:
            raise c.error(
                f"{where}.snap", f"snapping to exactly 0/1 is only for {', '.join(EXPRESSION_NAMES)}"
            )
        snap = c.mapping(data["snap"], f"{where}.snap", ("p0", "p1"))
        kwargs["snap_p0"] = c.number(snap.get("p0", 0.0), f"{where}.snap.p0")
        kwargs["snap_p1"] = c.number(snap.get("p1", 0.0), f"{where}.snap.p1")
    dist = ParamDist(kind, **kwargs)
    problems = dist.check(name)
    if problems:
        key, message = problems[0]
        raise c.error(f"{where}.{key}", message)
    return dist


def _parse_pose_sampling(c: Checker, data: Any) -> PoseSpec:
    d = c.mapping(data, "pose_sampling", POSE_NAMES)
    return PoseSpec({name: _parse_dist(c, name, value) for name, value in d.items()})


def _parse_rest_pose(c: Checker, data: Any) -> str | dict[str, float]:
    if isinstance(data, str):
        return c.choice(data, "rest_pose", REST_POSES)
    d = c.mapping(data, "rest_pose", POSE_NAMES)
    return {name: c.number(v, f"rest_pose.{name}", *DOMAINS[name]) for name, v in d.items()}


def _parse_character(c: Checker, index: int, data: Any, split_names: set[str]) -> CharacterEntry:
    where = f"characters[{index}]"
    if isinstance(data, str):
        data = {"path": data}
    d = c.mapping(data, where, CHARACTER_KEYS)
    sources = [k for k in ("path", "glob", "zip") if k in d] + (
        ["builtin"] if d.get("builtin") is not None else []
    )
    if len(sources) != 1:
        raise c.error(
            where, f"give exactly one of path, glob, zip or builtin: true (got {sources or 'none'})"
        )
    builtin = c.boolean(d["builtin"], f"{where}.builtin") if "builtin" in d else False
    if "builtin" in d and not builtin:
        raise c.error(f"{where}.builtin", "only 'builtin: true' is meaningful; remove the key otherwise")
    kw: dict[str, Any] = {"index": index, "builtin": builtin}
    for key in ("path", "glob", "zip", "member", "rig_override", "annotation"):
        if key in d:
            kw[key] = c.string(d[key], f"{where}.{key}")
    if "member" in d and "zip" not in d:
        raise c.error(f"{where}.member", "only used together with zip")
    many = "glob" in d or ("zip" in d and "member" not in d)
    for key in ("rig_override", "annotation"):
        if key in d and many:
            raise c.error(
                f"{where}.{key}", "names one model's file: not allowed with glob or a zip without member"
            )
    if "lighting" in d:
        kw["lighting"] = _parse_lighting_fields(c, d["lighting"], f"{where}.lighting")
    if "poses" in d:
        kw["poses"] = c.integer(d["poses"], f"{where}.poses", 0)
    if "split" in d:
        kw["split"] = c.choice(d["split"], f"{where}.split", sorted(split_names))
    return CharacterEntry(**kw)


def _parse_splits(c: Checker, data: Any) -> tuple[SplitSpec, ...]:
    if not isinstance(data, dict) or not data:
        raise c.error(
            "splits", f"expected a non-empty mapping of split name -> settings, got {_type_name(data)}"
        )
    out = []
    for name, value in data.items():
        if not isinstance(name, str) or not _SPLIT_NAME.match(name):
            raise c.error(f"splits.{name}", "split names are lower-case letters, digits, '_' and '-'")
        where = f"splits.{name}"
        d = c.mapping({} if value is None else value, where, SPLIT_KEYS)
        ratio = c.number(d["ratio"], f"{where}.ratio", 0.0) if "ratio" in d else None
        members: tuple[str, ...] = ()
        if "characters" in d:
            if not isinstance(d["characters"], list):
                raise c.error(
                    f"{where}.characters",
                    f"expected a list of ids or paths, got {_type_name(d['characters'])}",
                )
            members = tuple(c.string(v, f"{where}.characters[{i}]") for i, v in enumerate(d["characters"]))
        if "poses" in d and "poses_per_character" in d:
            raise c.error(where, "give poses (a total for the split) or poses_per_character, not both")
        poses = c.integer(d["poses"], f"{where}.poses", 0) if "poses" in d else None
        per = (
            c.integer(d["poses_per_character"], f"{where}.poses_per_character", 0)
            if "poses_per_character" in d
            else None
        )
        out.append(SplitSpec(name, ratio, members, poses, per))
    ratios = [s.ratio for s in out if s.ratio is not None]
    if ratios and sum(ratios) <= 0:
        raise c.error("splits", "the ratios add up to 0")
    return tuple(out)


def parse_manifest(data: Any, path: str | Path) -> Manifest:
    """Validate manifest data (as loaded from YAML); `path` is the file it came from."""
    path = Path(path).expanduser().resolve()
    c = Checker(path)
    d = c.mapping({} if data is None else data, "", TOP_KEYS)
    version = c.integer(d.get("version", MANIFEST_VERSION), "version")
    if version != MANIFEST_VERSION:
        raise c.error("version", f"this thagen reads manifest version {MANIFEST_VERSION}, not {version}")
    kw: dict[str, Any] = {"path": path, "version": version}
    for key in ("name", "description"):
        if key in d:
            kw[key] = c.string(d[key], key, nonempty=False)
    kw["seed"] = c.integer(d.get("seed", 0), "seed", 0, 2**63 - 1)
    if d.get("split_seed") is not None:
        kw["split_seed"] = c.integer(d["split_seed"], "split_seed", 0, 2**63 - 1)
    kw["output"] = c.string(d["output"], "output") if "output" in d else f"{path.stem}-out"
    if d.get("annotations") is not None:
        kw["annotations"] = c.string(d["annotations"], "annotations")
    kw["framing_preset"] = parse_framing_preset(c, d.get("framing_preset", "tha1"))
    if "images" in d:
        kw["images_preset"], kw["images"] = parse_images(c, d["images"])
    default_size = FRAMING_PRESETS[kw["framing_preset"]].default_size  # THA3's framing: 512
    image_size = c.integer(d.get("image_size", default_size), "image_size", 32, 4096)
    if image_size % 4:
        raise c.error(
            "image_size", f"must be a multiple of 4 (the head spans its middle half), got {image_size}"
        )
    kw["image_size"] = image_size
    if "render" in d:
        kw["render"] = _parse_render(c, d["render"])
    if "lighting" in d:
        kw["lighting"] = Lighting(**_parse_lighting_fields(c, d["lighting"], "lighting"))
    vector = kw["pose_vector"] = parse_pose_vector(c, d.get("pose_vector", "tha1"))
    if vector != "tha1":
        kw["rest_pose"] = parse_vector_rest(c, d.get("rest_pose", "tha2"), vector)
        kw["pose_sampling"] = parse_vector_sampling(c, d.get("pose_sampling"), vector)
        if "required_parameters" in d:
            kw["required_parameters"] = parse_required(c, d["required_parameters"], vector)
        if "vector_motion" in d:
            kw["vector_motion"] = parse_motion(c, d["vector_motion"])
    else:
        for key in ("required_parameters", "vector_motion"):
            if key in d:
                raise c.error(key, "only for pose_vector tha2 or tha3")
    if "rest_pose" in d and vector == "tha1":
        kw["rest_pose"] = _parse_rest_pose(c, d["rest_pose"])
    if "pose_sampling" in d and vector == "tha1":
        kw["pose_sampling"] = _parse_pose_sampling(c, d["pose_sampling"])
    if "poses_per_character" in d:
        kw["poses_per_character"] = c.integer(d["poses_per_character"], "poses_per_character", 0)
    if "shard_size" in d:
        kw["shard_size"] = c.integer(d["shard_size"], "shard_size", 1)
    if "splits" in d:
        kw["splits"] = _parse_splits(c, d["splits"])
    split_names = {s.name for s in kw.get("splits", Manifest.__dataclass_fields__["splits"].default)}
    if "characters" not in d:
        raise c.error("characters", "required: a list of models (path, glob, zip or builtin: true)")
    if not isinstance(d["characters"], list) or not d["characters"]:
        raise c.error("characters", f"expected a non-empty list, got {_type_name(d['characters'])}")
    kw["characters"] = tuple(_parse_character(c, i, v, split_names) for i, v in enumerate(d["characters"]))
    if "qa" in d:
        q = c.mapping(d["qa"], "qa", QA_KEYS)
        kw["qa"] = QAOptions(exclude_flagged=c.boolean(q.get("exclude_flagged", False), "qa.exclude_flagged"))
    if "identity" in d:
        kw["identity"] = parse_identity_options(c, d["identity"])
    return Manifest(**kw)


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest file (ConfigError naming the file and field on any mistake)."""
    path = Path(path).expanduser().resolve()
    return parse_manifest(read_yaml(path), path)


# --------------------------------------------------------------------------- expansion


def _refs_for_entry(manifest: Manifest, entry: CharacterEntry) -> list[chars.ModelRef]:
    c = Checker(manifest.path)
    where = entry.field_path
    if entry.builtin:
        return [chars.builtin_ref(entry.index)]
    try:
        if entry.path is not None:
            p = manifest.resolve(entry.path)
            if not p.is_file():
                raise c.error(f"{where}.path", f"no such file: {p}")
            return chars.refs_for_path(p, entry.index)
        if entry.zip is not None:
            p = manifest.resolve(entry.zip)
            if not p.is_file():
                raise c.error(f"{where}.zip", f"no such file: {p}")
            return chars.refs_for_zip(p, entry.member, entry.index)
        assert entry.glob is not None
        hits = chars.glob_models(entry.glob, manifest.base_dir)
        if not hits:
            log.warning("%s: %s.glob %r matches no model", manifest.path, where, entry.glob)
        refs: list[chars.ModelRef] = []
        for hit in hits:
            refs.extend(chars.refs_for_path(hit, entry.index))
        return refs
    except ArchiveError as exc:
        raise ArchiveError(f"{manifest.path}: {where}: {exc}") from exc


def _named_file(manifest: Manifest, entry: CharacterEntry, key: str) -> Path | None:
    value = getattr(entry, key)
    if value is None:
        return None
    p = manifest.resolve(value)
    if not p.is_file():
        raise Checker(manifest.path).error(f"{entry.field_path}.{key}", f"no such file: {p}")
    return p


def default_annotation_path(ref: chars.ModelRef) -> Path | None:
    """`<stem>.annotation.yaml` beside the model (for a zip member: `<member stem>.annotation.yaml`
    beside the zip), if it exists."""
    if ref.path is None:
        return None
    stem = Path(ref.member).stem if ref.member else ref.path.stem
    candidate = ref.path.parent / f"{stem}.annotation.yaml"
    return candidate if candidate.is_file() else None


def _folder_annotation(folder: Path | None, character_id: str) -> Path | None:
    """`<folder>/<id>.annotation.yaml` (as `thagen annotate --annotations` writes), if it exists."""
    if folder is None:
        return None
    candidate = Path(folder) / f"{character_id}.annotation.yaml"
    return candidate if candidate.is_file() else None


def _default_override_path(ref: chars.ModelRef) -> Path | None:
    if ref.path is None:
        return None
    from thagen.rigs.overrides import find_override_file

    return find_override_file(ref.path, ref.member)


def _assign_splits(
    manifest: Manifest, refs: list[chars.ModelRef], group_of: dict[str, str] | None = None
) -> dict[str, str]:
    c = Checker(manifest.path)
    entries = manifest.characters
    assigned: dict[str, tuple[str, str]] = {}  # id -> (split, why)

    def assign(ref: chars.ModelRef, split: str, why: str) -> None:
        previous = assigned.get(ref.id)
        if previous is not None and previous[0] != split:
            raise c.error(why, f"{ref.id} is already put in split {previous[0]!r} by {previous[1]}")
        assigned[ref.id] = (split, why)

    for ref in refs:
        entry = entries[ref.entry] if 0 <= ref.entry < len(entries) else None
        if entry is not None and entry.split is not None:
            assign(ref, entry.split, f"{entry.field_path}.split")
    for spec in manifest.splits:
        for i, item in enumerate(spec.characters):
            where = f"splits.{spec.name}.characters[{i}]"
            item_path = None if chars.is_valid_id(item) else manifest.resolve(item)
            hits = [
                r
                for r in refs
                if r.id == item
                or (group_of is not None and group_of.get(r.id) == item)
                or (item_path is not None and r.path is not None and r.path.resolve() == item_path)
            ]
            if not hits:
                log.warning("%s: %s: %r matches no character", manifest.path, where, item)
            for ref in hits:
                assign(ref, spec.name, where)
    ratios = {s.name: s.ratio for s in manifest.splits if s.ratio}
    # identity groups (render/identity_plan.py): a group goes to one split, by its group id
    return split_by_group(refs, assigned, group_of or {}, ratios, manifest.effective_split_seed, c.error)


def _pose_counts(manifest: Manifest, refs: list[chars.ModelRef], split_of: dict[str, str]) -> dict[str, int]:
    c = Checker(manifest.path)
    counts: dict[str, int] = {}
    for spec in manifest.splits:
        members = [r for r in refs if split_of[r.id] == spec.name]
        fixed = {
            r.id: manifest.characters[r.entry].poses
            for r in members
            if manifest.characters[r.entry].poses is not None
        }
        counts.update(fixed)
        free = [r.id for r in members if r.id not in fixed]
        if spec.poses is not None:
            remaining = spec.poses - sum(fixed.values())
            if remaining < 0:
                raise c.error(
                    f"splits.{spec.name}.poses",
                    f"{spec.poses} poses, but characters with their own 'poses' already take {sum(fixed.values())}",
                )
            if free:
                counts.update(chars.distribute_exactly(remaining, free))
            elif remaining:
                log.warning(
                    "%s: splits.%s: %d poses left for no character", manifest.path, spec.name, remaining
                )
        else:
            per = (
                spec.poses_per_character
                if spec.poses_per_character is not None
                else manifest.poses_per_character
            )
            counts.update({cid: per for cid in free})
        if not members:
            log.warning("%s: split %r has no characters", manifest.path, spec.name)
    return counts


def discover_characters(manifest: Manifest) -> list[chars.ModelRef]:
    """Every model the manifest names, one per distinct file (duplicates dropped with a warning)."""
    refs: list[chars.ModelRef] = []
    for entry in manifest.characters:
        refs.extend(_refs_for_entry(manifest, entry))
    return chars.dedupe(refs)


def expand_characters(
    manifest: Manifest, *, flagged: Iterable[str] = (), annotations: Path | None = None
) -> list[CharacterJob]:
    """One CharacterJob per character, ordered by split (manifest order) then id.

    `flagged`: ids to leave out before pose totals are spread (when the manifest's
    qa.exclude_flagged is true), for a caller re-planning from an earlier run's QA. `thagen
    render` itself does not drop characters this way: it renders and journals flagged ones and
    moves their shards to OUT/excluded/, so a resume never changes finished characters' poses.
    `annotations`: a folder of `<id>.annotation.yaml` files (replaces the manifest's
    `annotations`); an entry's own `annotation:` wins over it, and it wins over a file beside the model.
    """
    refs = discover_characters(manifest)
    flagged = set(flagged)
    if manifest.qa.exclude_flagged and flagged:
        dropped = [r.id for r in refs if r.id in flagged]
        if dropped:
            log.info("excluding %d QA-flagged characters: %s", len(dropped), ", ".join(dropped))
        refs = [r for r in refs if r.id not in flagged]
    if not refs:
        raise ConfigError(f"{manifest.path}: characters: no model found")
    identity = plan_identity(manifest, refs)
    all_refs, refs = refs, kept_refs(identity, refs, manifest.identity.keep_duplicates)
    split_of = _assign_splits(manifest, refs, identity.group_of)
    counts = _pose_counts(manifest, refs, split_of)
    rest = manifest.rest_pose_values
    order = {s.name: i for i, s in enumerate(manifest.splits)}
    jobs = []
    for ref in refs:
        entry = manifest.characters[ref.entry]
        lighting = replace(manifest.lighting, **entry.lighting) if entry.lighting else manifest.lighting
        annotation = (
            _named_file(manifest, entry, "annotation")
            or _folder_annotation(annotations or manifest.annotations_dir, ref.id)
            or default_annotation_path(ref)
        )
        override = _named_file(manifest, entry, "rig_override") or _default_override_path(ref)
        jobs.append(
            CharacterJob(
                id=ref.id,
                sha256=ref.sha256,
                model_path=ref.path,
                zip_member=ref.member,
                builtin=ref.builtin,
                override_path=override,
                annotation_path=annotation,
                split=split_of[ref.id],
                pose_count=counts[ref.id],
                lighting=lighting,
                seed=manifest.seed,
                pose_spec=manifest.pose_sampling,
                rest_pose=dict(rest) if manifest.pose_vector == "tha1" else manifest.rest_pose_for(ref.id),
                image_size=manifest.image_size,
                render=manifest.render,
                shard_size=manifest.shard_size,
                output_dir=manifest.output_dir,
                source=f"{manifest.path}: {entry.field_path} ({ref.describe()})",
                identity=job_identity(identity, all_refs, ref.id, manifest.identity.keep_duplicates),
                pose_vector=manifest.pose_vector,
                required_parameters=manifest.required_parameters,
                vector_motion=dict(manifest.vector_motion),
                images=manifest.images,
                framing_preset=manifest.framing_preset,
            )
        )
    jobs.sort(key=lambda j: (order[j.split], j.id))
    return jobs
