"""Training configuration: a YAML file, checked key by key.

Layout (see train/configs/tha1.yaml): run-wide keys at the top level, and one section per network
(THA1: `morpher`, `rotator`, `combiner`; THA3: see `thagen.train.tha3_training.config`) for the
stage keys (batch size, optimiser, length). A stage key written at the top level is the default
for every stage. Relative paths are taken relative to the current working directory. Unknown keys
and wrong types raise ConfigError naming the file and the key, so a typo never silently falls
back to a default. `system` (tha1 or tha3) says which trainer a file is for, so a THA3 config
given to the THA1 trainer (or the reverse) is a one-line error, not a run with the wrong keys.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import yaml

from thagen.errors import ConfigError

STAGES = ("morpher", "rotator", "combiner")
CONFIG_DIR = Path(__file__).resolve().parent / "configs"
SYSTEMS = ("tha1", "tha3")


class StageSettings(Protocol):
    """The stage keys every system has (what the shared training loop reads)."""

    batch_size: int
    epochs: int | None
    max_steps: int | None
    lr: float
    betas: tuple[float, float]
    perceptual_weight: float


@dataclass
class StageConfig:
    """Per-network settings (THA1 defaults)."""

    batch_size: int = 25
    epochs: int | None = 6
    max_steps: int | None = None
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.999)
    perceptual_weight: float = 0.0
    keep_input_init: bool = True  # start the network at "return the input" (train/tha1/networks.py)
    rotator_checkpoint: Path | None = None  # combiner only: default OUT/rotator/model.pt


@dataclass
class RunConfig:
    """The run-wide keys every system shares; `path` is the YAML file it came from (for messages).

    Subclasses name their system, their stages (each a field holding a stage config), the stage
    config class, and which stage keys only some stages may set.
    """

    SYSTEM: ClassVar[str] = ""
    STAGE_NAMES: ClassVar[tuple[str, ...]] = ()
    STAGE_CLASS: ClassVar[type] = StageConfig
    STAGE_ONLY: ClassVar[dict[str, tuple[str, ...]]] = {}

    path: Path | None = None
    data_dir: Path | None = None
    out_dir: Path = Path("runs/thagen")
    splits: dict[str, str] = field(default_factory=lambda: {"train": "train", "val": "val", "test": "test"})
    image_size: int = 256
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    channels_last: bool = True
    num_workers: int = 4
    shuffle_buffer: int = 256
    open_shards: int = 32
    drop_last: bool = False
    log_every: int = 50
    checkpoint_every: int = 1000
    sample_every: int = 1000
    val_every: int = 0
    val_batches: int = 20
    perceptual_weights: Path | None = None

    def stage(self, name: str) -> StageSettings:
        """The stage config of `name` (a `STAGE_CLASS` instance)."""
        return getattr(self, name)

    def split_dir(self, split: str) -> Path:
        if self.data_dir is None:
            raise ConfigError(
                f"{self.path or '<config>'}: key 'data_dir': not set (set it or pass --data DIR)"
            )
        return Path(self.data_dir) / self.splits.get(split, split)

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML/JSON-friendly values (paths as strings), with the system's name."""

        def plain(v: object) -> object:
            if isinstance(v, Path):
                return str(v)
            if isinstance(v, tuple):
                return list(v)
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            if dataclasses.is_dataclass(v):
                return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
            return v

        out = {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "path"}
        return {"system": self.SYSTEM, **out}


@dataclass
class TrainConfig(RunConfig):
    """THA1's three networks (`thagen train morpher|rotator|combiner|all`)."""

    SYSTEM: ClassVar[str] = "tha1"
    STAGE_NAMES: ClassVar[tuple[str, ...]] = STAGES
    STAGE_CLASS: ClassVar[type] = StageConfig
    STAGE_ONLY: ClassVar[dict[str, tuple[str, ...]]] = {"rotator_checkpoint": ("combiner",)}

    width: int = 64
    blocks: int = 6
    morpher: StageConfig = field(default_factory=StageConfig)
    rotator: StageConfig = field(default_factory=StageConfig)
    combiner: StageConfig = field(default_factory=lambda: StageConfig(batch_size=20, epochs=3))

    def stage(self, name: str) -> StageConfig:
        return getattr(self, name)


STAGE_KEYS = {f.name for f in dataclasses.fields(StageConfig)}
RUN_KEYS = {f.name for f in dataclasses.fields(TrainConfig)} - {"path", *STAGES}
POSITIVE = {
    "batch_size",
    "image_size",
    "width",
    "blocks",
    "log_every",
    "epochs",
    "max_steps",
    "val_batches",
    "width_divisor",
    "bottleneck_blocks",
}
NON_NEGATIVE = {
    "num_workers",
    "checkpoint_every",
    "sample_every",
    "val_every",
    "shuffle_buffer",
    "open_shards",
    "perceptual_weight",
}
CHOICES: dict[str, tuple[str, ...]] = {
    "device": ("auto", "cpu", "cuda"),
    "inputs": ("auto", "layers", "decomposer", "rest"),
}

C = TypeVar("C", bound=RunConfig)


def _type_of(cls: type, name: str) -> str:
    """The annotation string of a field (annotations are strings here: `from __future__`)."""
    return str({f.name: f.type for f in dataclasses.fields(cls)}[name])


def _check(where: str, key: str, value: object, typ: str) -> object:
    """Coerce/check one value against the annotation string of its field."""
    base = key.rsplit(".", 1)[-1]

    def fail(expected: str) -> ConfigError:
        return ConfigError(f"{where}: key '{key}': expected {expected}, got {type(value).__name__} {value!r}")

    optional = "None" in typ
    if value is None:
        if optional:
            return None
        raise fail(typ)
    if typ.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail("an integer")
    elif typ.startswith("float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail("a number")
        value = float(value)
    elif typ == "bool":
        if not isinstance(value, bool):
            raise fail("true or false")
    elif typ.startswith("str"):
        if not isinstance(value, str):
            raise fail("a string")
    elif typ.startswith("Path"):
        if not isinstance(value, str) or not value:
            raise fail("a path string")
        value = Path(value).expanduser()
    elif typ.startswith("tuple"):
        if (
            not isinstance(value, list | tuple)
            or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < 1 for v in value)
        ):
            raise fail("two numbers in [0, 1), like [0.5, 0.999]")
        value = (float(value[0]), float(value[1]))
    elif typ.startswith("dict"):
        if not isinstance(value, dict):
            raise fail("a mapping")
        unknown = set(value) - {"train", "val", "test"}
        if unknown:
            raise ConfigError(f"{where}: key '{key}.{sorted(unknown)[0]}': unknown split (train, val, test)")
        for k, v in value.items():
            if not isinstance(v, str) or not v or "/" in v or v.startswith("."):
                raise ConfigError(f"{where}: key '{key}.{k}': expected a directory name, got {v!r}")
        value = {"train": "train", "val": "val", "test": "test", **value}
    # the POSITIVE and NON_NEGATIVE keys and lr are numbers: checked as such above
    if base in POSITIVE and isinstance(value, int | float) and value <= 0:
        raise fail("a positive value")
    if base in NON_NEGATIVE and isinstance(value, int | float) and value < 0:
        raise fail("a value >= 0")
    if base in CHOICES and value not in CHOICES[base]:
        raise fail(" or ".join(CHOICES[base]))
    if base == "lr" and isinstance(value, int | float) and not value > 0:
        raise fail("a positive learning rate")
    return value


def parse_config(cls: type[C], raw: object, where: str = "<config>", path: Path | None = None) -> C:
    """Validate a parsed YAML mapping as a `cls` config; `where` names the file in errors."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: the top level must be a mapping of keys, got {type(raw).__name__}")
    system = raw.get("system", "tha1")
    if system != cls.SYSTEM:
        how = (
            "thagen train tha3 CONFIG"
            if system == "tha3"
            else "thagen train all|morpher|rotator|combiner CONFIG"
        )
        if system not in SYSTEMS:
            raise ConfigError(f"{where}: key 'system': expected tha1 or tha3, got {system!r}")
        raise ConfigError(f"{where}: key 'system': this is a {system} config; train it with `{how}`")
    cfg = cls(path=path)
    stages = cls.STAGE_NAMES
    stage_keys = {f.name for f in dataclasses.fields(cls.STAGE_CLASS)}
    run_keys = {f.name for f in dataclasses.fields(cls)} - {"path", *stages}
    stage_defaults: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise ConfigError(f"{where}: key {key!r}: keys must be strings")
        if key == "system":
            continue
        if key in run_keys:
            setattr(cfg, key, _check(where, key, value, _type_of(cls, key)))
        elif key in stage_keys:
            stage_defaults[key] = _check(where, key, value, _type_of(cls.STAGE_CLASS, key))
        elif key not in stages:
            known = ", ".join(sorted(run_keys | stage_keys | set(stages) | {"system"}))
            raise ConfigError(f"{where}: key '{key}': unknown key (known: {known})")
    for stage in stages:
        section = raw.get(stage) or {}
        if not isinstance(section, dict):
            raise ConfigError(f"{where}: key '{stage}': expected a mapping of stage keys")
        own = {k: v for k, v in stage_defaults.items() if stage in cls.STAGE_ONLY.get(k, (stage,))}
        sc = dataclasses.replace(getattr(cfg, stage), **own)  # a STAGE_CLASS dataclass
        for key, value in section.items():
            if key not in stage_keys:
                raise ConfigError(
                    f"{where}: key '{stage}.{key}': unknown key (known: {', '.join(sorted(stage_keys))})"
                )
            if stage not in cls.STAGE_ONLY.get(key, (stage,)):
                only = " and ".join(cls.STAGE_ONLY[key])
                raise ConfigError(f"{where}: key '{stage}.{key}': only {only} uses {key}")
            setattr(sc, key, _check(where, f"{stage}.{key}", value, _type_of(cls.STAGE_CLASS, key)))
        if sc.epochs is None and sc.max_steps is None:
            raise ConfigError(f"{where}: key '{stage}.epochs': set epochs or max_steps (both are empty)")
        setattr(cfg, stage, sc)
    if cfg.image_size % 8:
        raise ConfigError(f"{where}: key 'image_size': must be a multiple of 8, got {cfg.image_size}")
    return cfg


def config_from_dict(raw: object, where: str = "<config>", path: Path | None = None) -> TrainConfig:
    """Validate a parsed THA1 YAML mapping; `where` names the file in errors."""
    return parse_config(TrainConfig, raw, where, path)


def resolve_config_path(name: str | Path) -> Path:
    """A file path, or the name of a shipped config ('tha1', 'tiny', 'tha3', 'tha3_tiny')."""
    p = Path(name)
    if p.is_file():
        return p
    shipped = CONFIG_DIR / f"{p.stem if p.suffix in ('.yaml', '.yml') else p.name}.yaml"
    if not p.parent.parts and shipped.is_file():
        return shipped
    raise ConfigError(f"{p}: config file not found (shipped configs: {', '.join(shipped_configs())})")


def shipped_configs() -> list[str]:
    return sorted(q.stem for q in CONFIG_DIR.glob("*.yaml"))


def read_config(cls: type[C], name: str | Path, overrides: dict[str, Any] | None = None) -> C:
    """Read and validate a `cls` config; `overrides` (CLI flags) use the same keys, 'stage.key' for stages."""
    path = resolve_config_path(name)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from exc
    if overrides:
        raw = dict(raw or {})
        for key, value in overrides.items():
            if value is None:
                continue
            if "." in key:
                stage, sub = key.split(".", 1)
                raw[stage] = {**(raw.get(stage) or {}), sub: value}
            else:
                raw[key] = value
    return parse_config(cls, raw, where=str(path), path=path)


def load_config(name: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read and validate a THA1 config (see `read_config`)."""
    return read_config(TrainConfig, name, overrides)
