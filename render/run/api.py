"""Render a manifest from Python: the one function `thagen render` calls.

`render_manifest("manifests/tha1.yaml", out="/data/tha1", farm=FarmOptions(workers=4))` does
exactly what the command line does (the CLI only parses arguments): load and check the manifest,
pin identity groups to the splits OUT already rendered them in, expand the characters, check
the output folder, and run the characters through the chosen backend, resumably.
`redo=["flagged"]` (or ids) renders finished characters again, as `--redo` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from thagen.render.manifest import Manifest, expand_characters, load_manifest
from thagen.render.manifest.licenses import LicenseExclusion
from thagen.render.manifest.splits import pin_to_output
from thagen.render.output.licenses import write_license_plan
from thagen.render.output.output_dir import prepare_output_dir
from thagen.render.run.backends import FarmOptions
from thagen.render.run.partition import Part, parse_part
from thagen.render.run.runner import RunSummary, run_jobs
from thagen.render.scene.gl_probe import require_engine
from thagen.render.settings import RunSettings


def render_manifest(
    manifest: Manifest | str | Path,
    *,
    out: str | Path | None = None,
    resume: bool = True,
    part: Part | str | None = None,
    threads: int = 0,
    farm: FarmOptions | None = None,
    qa: bool = True,
    cache_dir: str | Path | None = None,
    annotations: str | Path | None = None,
    progress_interval: float = 10.0,
    progress_stream: TextIO | None = None,
    identity_jobs: int = 0,
    out_field: str = "out",
    redo: Sequence[str] = (),
) -> RunSummary:
    """Render `manifest` (a path, or one `load_manifest` returned) into `out` (default: the
    manifest's `output`) and return the run's summary; resumes from OUT's journals unless
    `resume` is false. `part` is `(K, N)` or "K/N" / "slurm" as `--part` takes; `farm` the
    backend, workers, retries and timeouts. `redo`: `flagged` (every finished character with a
    hard QA flag) and/or character ids to render again with the current annotations and
    overrides (render/run/redo.py). Errors are ThagenErrors naming the file and field; a
    character that fails is recorded in OUT and counted in the summary, never raised."""
    if isinstance(redo, str):
        redo = [redo]
    m = manifest if isinstance(manifest, Manifest) else load_manifest(manifest)
    if farm is None or farm.address is None:  # a Ray cluster's nodes check for themselves
        require_engine(m.render.engine, m.path)  # EEVEE / Workbench need OpenGL (gl_probe.py)
    part_spec = parse_part(part) if isinstance(part, str) else part
    out_dir = Path(out if out is not None else m.output_dir).resolve()
    # identity groups stay in the splits OUT rendered them in (render/identity/pins.py)
    pinned = pin_to_output(m, out_dir, resume=resume, part=part_spec, sign_jobs=identity_jobs)
    excluded: list[LicenseExclusion] = []  # models the manifest's `licenses:` filter leaves out
    jobs = expand_characters(
        pinned, annotations=Path(annotations) if annotations is not None else None, license_excluded=excluded
    )
    prepare_output_dir(
        out_dir, field=out_field if out is not None else "output", source=None if out else m.path
    )
    write_license_plan(out_dir, jobs, excluded)  # for dataset.yaml and the card (render/output/licenses.py)
    settings = RunSettings.from_manifest(
        m, threads=threads, qa=qa, cache_dir=str(cache_dir or out_dir / ".cache")
    )
    return run_jobs(
        jobs,
        out_dir,
        settings,
        manifest_dict=m.to_dict(),
        resume=resume,
        progress_stream=progress_stream,
        progress_interval=progress_interval,
        part=part_spec,
        farm=farm,
        manifest_path=m.path,
        render_options=_render_options(qa, annotations),
        redo=redo,
    )


def _render_options(qa: bool, annotations: str | Path | None) -> list[str]:
    """The options `thagen status` and the review loop repeat in the commands they print, so
    a redo uses the same annotations folder the person just edited."""
    options = [] if qa else ["--no-qa"]
    if annotations is not None:
        options += ["--annotations", str(Path(annotations).resolve())]
    return options
