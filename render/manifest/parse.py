"""Parsing a manifest document: the top level and each section, into a checked `Manifest`.

Every field is checked here, at load time, so a mistake fails before any rendering starts
(`thagen render` may run for hours). Sections of the extended pose vectors, `images` and
`identity` have parsers of their own (render/manifest/vector_fields.py, render/poses/sample_images.py,
render/identity/plan.py); this module calls them in the order that decides which error a
manifest with several mistakes reports first, so keep that order.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from thagen.render.framing.presets import FRAMING_PRESETS
from thagen.render.identity.plan import parse_identity_options
from thagen.render.manifest.licenses import parse_license_options
from thagen.render.manifest.types import (
    CHARACTER_KEYS,
    DEFAULT_SAMPLES,
    DEFAULT_SPLITS,
    DEVICES,
    DIST_KEYS,
    ENGINE_PRESETS,
    ENGINES,
    LIGHTING_KEYS,
    LIGHTING_PRESETS,
    MANIFEST_VERSION,
    QA_KEYS,
    RENDER_KEYS,
    SPLIT_KEYS,
    TOP_KEYS,
    CharacterEntry,
    Lighting,
    Manifest,
    QAOptions,
    RenderSettings,
    SplitSpec,
)
from thagen.render.manifest.vector_fields import (
    parse_framing_preset,
    parse_motion,
    parse_pose_vector,
    parse_required,
    parse_vector_rest,
    parse_vector_sampling,
)
from thagen.render.output.shards import POSE_NAMES
from thagen.render.poses.sample_images import parse_images
from thagen.render.poses.sampling import (
    DIST_KINDS,
    DOMAINS,
    EXPRESSION_NAMES,
    REST_POSES,
    ParamDist,
    PoseSpec,
    tha1_default,
)
from thagen.yaml_checks import Checker, read_yaml, type_name

_SPLIT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def _parse_render(c: Checker, data: object) -> RenderSettings:
    d = c.mapping(data, "render", RENDER_KEYS)
    base = RenderSettings()
    engine = c.choice(d.get("engine", base.engine), "render.engine", ENGINES)
    adaptive = c.boolean(d.get("adaptive", False), "render.adaptive")
    if adaptive and engine != "cycles":
        raise c.error("render.adaptive", f"adaptive sampling is Cycles' own; render.engine is {engine}")
    return RenderSettings(
        engine=engine,
        device=c.choice(d.get("device", base.device), "render.device", DEVICES),
        samples=c.integer(d.get("samples", DEFAULT_SAMPLES[engine]), "render.samples", 1, 65536),
        adaptive=adaptive,
    )


def _check_engine(c: Checker, kw: dict[str, Any]) -> None:
    """Refuse what the engine cannot render: a lighting preset it cannot reproduce (the manifest's
    or a character's), Workbench's eyebrow layers (they need holdout shading)."""
    engine = kw["render"].engine if "render" in kw else RenderSettings().engine
    allowed = ENGINE_PRESETS[engine]
    presets = [("lighting.preset", kw["lighting"].preset if "lighting" in kw else Lighting().preset)]
    presets += [
        (f"characters[{entry.index}].lighting.preset", entry.lighting["preset"])
        for entry in kw["characters"]
        if entry.lighting and "preset" in entry.lighting
    ]
    for where, preset in presets:
        if preset not in allowed:
            raise c.error(
                "render.engine",
                f"{engine} does not support {where}: {preset} (it renders {', '.join(allowed)})",
            )
    layers = [spec.name for spec in kw.get("images", ()) if spec.layer is not None]
    if engine == "workbench" and layers:
        raise c.error("render.engine", f"workbench does not support images: {layers[0]} (an eyebrow layer)")


def _parse_lighting_fields(c: Checker, data: object, where: str) -> dict[str, Any]:
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


def _parse_dist(c: Checker, name: str, data: object) -> ParamDist:
    where = f"pose_sampling.{name}"
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        data = {"dist": "fixed", "value": data}
    if not isinstance(data, dict):
        raise c.error(
            where, f"expected a mapping like {{dist: uniform, low: 0, high: 1}}, got {type_name(data)}"
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


def _parse_pose_sampling(c: Checker, data: object) -> PoseSpec:
    d = c.mapping(data, "pose_sampling", POSE_NAMES)
    return PoseSpec({name: _parse_dist(c, name, value) for name, value in d.items()})


def _parse_rest_pose(c: Checker, data: object) -> str | dict[str, float]:
    if isinstance(data, str):
        return c.choice(data, "rest_pose", REST_POSES)
    d = c.mapping(data, "rest_pose", POSE_NAMES)
    return {name: c.number(v, f"rest_pose.{name}", *DOMAINS[name]) for name, v in d.items()}


def _parse_character(c: Checker, index: int, data: object, split_names: set[str]) -> CharacterEntry:
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


def _parse_splits(c: Checker, data: object) -> tuple[SplitSpec, ...]:
    if not isinstance(data, dict) or not data:
        raise c.error(
            "splits", f"expected a non-empty mapping of split name -> settings, got {type_name(data)}"
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
                    f"expected a list of ids or paths, got {type_name(d['characters'])}",
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


def parse_manifest(data: object, path: str | Path) -> Manifest:
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
        if "rest_pose" in d:
            kw["rest_pose"] = _parse_rest_pose(c, d["rest_pose"])
        if "pose_sampling" in d:
            kw["pose_sampling"] = _parse_pose_sampling(c, d["pose_sampling"])
    if "poses_per_character" in d:
        kw["poses_per_character"] = c.integer(d["poses_per_character"], "poses_per_character", 0)
    if "shard_size" in d:
        kw["shard_size"] = c.integer(d["shard_size"], "shard_size", 1)
    if "splits" in d:
        kw["splits"] = _parse_splits(c, d["splits"])
    split_names = {s.name for s in kw.get("splits", DEFAULT_SPLITS)}
    if "characters" not in d:
        raise c.error("characters", "required: a list of models (path, glob, zip or builtin: true)")
    if not isinstance(d["characters"], list) or not d["characters"]:
        raise c.error("characters", f"expected a non-empty list, got {type_name(d['characters'])}")
    kw["characters"] = tuple(_parse_character(c, i, v, split_names) for i, v in enumerate(d["characters"]))
    _check_engine(c, kw)
    if "qa" in d:
        q = c.mapping(d["qa"], "qa", QA_KEYS)
        kw["qa"] = QAOptions(exclude_flagged=c.boolean(q.get("exclude_flagged", True), "qa.exclude_flagged"))
    if "identity" in d:
        kw["identity"] = parse_identity_options(c, d["identity"])
    if "licenses" in d:
        kw["licenses"] = parse_license_options(c, d["licenses"])
    return Manifest(**kw)


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest file (ConfigError naming the file and field on any mistake)."""
    path = Path(path).expanduser().resolve()
    return parse_manifest(read_yaml(path), path)
