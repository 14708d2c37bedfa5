"""thagen.render: from a manifest to training shards, on one machine or a render farm.

`render_manifest(path_or_manifest, ...)` (render/run/api.py) is the one way to render from
Python; `thagen render` calls it. The subpackages, lowest layer first (`make lint` checks that
each imports only from those below it):

- output/: training shards, crash-safe JSON-lines journals, the output folder's layout;
- discovery/: model files and zips -> characters with stable ids, the hash cache;
- identity/: which models are one character (groups) or the same model twice (duplicates);
- poses/: pose vectors sampled and turned into rotations and morph weights (pure numpy);
- framing/: where the head sits (estimate, confidence, presets, annotation files);
- manifest/: the manifest's YAML -> a checked `Manifest` -> `CharacterJob`s;
- settings.py: run-wide settings and the per-character records backends exchange;
- scene/: the Blender side (the only render/ modules that import bpy);
- character/: one character rendered, checked (QA) and written;
- run/: the runner, backends (local pool, Ray), parts, merge, status and re-check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thagen.render.run.api import render_manifest

__all__ = ["render_manifest"]


def __getattr__(name: str) -> Any:
    # Imported on first use: `import thagen.render.output.shards` (the trainer) stays light.
    if name == "render_manifest":
        from thagen.render.run.api import render_manifest

        return render_manifest
    raise AttributeError(f"module 'thagen.render' has no attribute {name!r}")
