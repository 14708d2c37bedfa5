"""One character, rendered: prepare (read, rig, framing, import), pose samples into shards, QA.

The public entry points, re-exported from the modules of one job each:

- `render_character(job, renderer, settings)`: one manifest character into shards and its
  per-character files (render/character/render.py); what every backend's worker calls;
- `plan_character`, `load_model`, `rig_for`, `framing_for`: the Blender-free steps
  (render/character/plan.py), which `Prefetcher` runs ahead for the next character
  (render/character/prefetch.py); `prepare_character` adds the import (prepare.py);
- `render_one` / `adhoc_job`: `thagen render-one` (render/character/render_one.py);
- `make_renderer` and `RunSettings`: the Blender renderer and the run-wide settings.

QA on pixels is render/character/qa_checks.py (no Blender), the QA renders and contact sheet
glue render/character/qa_renders.py, records and logs render/character/records.py.
"""

from __future__ import annotations

from thagen.render.character.plan import (
    CharacterPlan,
    framing_for,
    load_model,
    plan_character,
    rig_for,
    snap_poses,
)
from thagen.render.character.prefetch import Prefetcher
from thagen.render.character.prepare import (
    Prepared,
    Shot,
    Timer,
    expression_only,
    pose_record,
    prepare_character,
)
from thagen.render.character.render import render_character
from thagen.render.character.render_one import adhoc_job, render_one
from thagen.render.scene.renderer import Renderer, blender_version, make_renderer
from thagen.render.settings import QA_RENDERS, CharacterError, CharacterResult, RunSettings

__all__ = [
    "QA_RENDERS",
    "CharacterError",
    "CharacterPlan",
    "CharacterResult",
    "Prefetcher",
    "Prepared",
    "Renderer",
    "RunSettings",
    "Shot",
    "Timer",
    "adhoc_job",
    "blender_version",
    "expression_only",
    "framing_for",
    "load_model",
    "make_renderer",
    "plan_character",
    "pose_record",
    "prepare_character",
    "render_character",
    "render_one",
    "rig_for",
    "snap_poses",
]
