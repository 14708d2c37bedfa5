"""Render manifests: the public entry point (`load_manifest`, `expand_characters`, the dataclasses).

A manifest says which characters to render, how many poses each, from which distributions,
with which lighting and render settings. Every field is documented in manifests/README.md.
Mistakes (unknown keys, wrong types, absurd ranges) are ConfigErrors naming the manifest file
and the field path (`characters[2].annotation`), because a silently ignored key would produce
a wrong dataset hours later.

`expand_characters` turns a manifest into `CharacterJob`s: plain picklable records holding
everything a worker process needs to render one character.

The work is done in modules of one job each; import from here, not from them, so they can
move again without touching callers:

- thagen/yaml_checks.py: reading the YAML, the `Checker` of values (errors name the field);
- render/manifest/types.py: the schema's key names, `Manifest`, `CharacterJob` and their parts;
- render/manifest/parse.py: the top-level document and its sections -> `Manifest`;
- render/manifest/expand.py: `characters` entries (path, glob, zip, builtin) -> `CharacterJob`s;
- render/manifest/splits.py: which split each character goes to, and its pose count.
"""

from __future__ import annotations

from thagen.render.manifest.expand import default_annotation_path, discover_characters, expand_characters
from thagen.render.manifest.parse import load_manifest, parse_manifest
from thagen.render.manifest.types import (
    CHARACTER_KEYS,
    DEFAULT_IMAGE_SIZE,
    DEFAULT_POSES_PER_CHARACTER,
    DEFAULT_SHARD_SIZE,
    DEFAULT_SPLITS,
    DEVICES,
    DIST_KEYS,
    ENGINES,
    LIGHTING_KEYS,
    LIGHTING_PRESETS,
    MANIFEST_VERSION,
    QA_KEYS,
    RENDER_KEYS,
    SPLIT_KEYS,
    TOP_KEYS,
    CharacterEntry,
    CharacterJob,
    Lighting,
    Manifest,
    QAOptions,
    RenderSettings,
    SplitSpec,
)
from thagen.yaml_checks import Checker, read_yaml

__all__ = [
    "CHARACTER_KEYS",
    "DEFAULT_IMAGE_SIZE",
    "DEFAULT_POSES_PER_CHARACTER",
    "DEFAULT_SHARD_SIZE",
    "DEFAULT_SPLITS",
    "DEVICES",
    "DIST_KEYS",
    "ENGINES",
    "LIGHTING_KEYS",
    "LIGHTING_PRESETS",
    "MANIFEST_VERSION",
    "QA_KEYS",
    "RENDER_KEYS",
    "SPLIT_KEYS",
    "TOP_KEYS",
    "CharacterEntry",
    "CharacterJob",
    "Checker",
    "Lighting",
    "Manifest",
    "QAOptions",
    "RenderSettings",
    "SplitSpec",
    "default_annotation_path",
    "discover_characters",
    "expand_characters",
    "load_manifest",
    "parse_manifest",
    "read_yaml",
]
