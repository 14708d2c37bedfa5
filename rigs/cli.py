"""`thagen inspect MODEL` and `thagen rig check`: what is inside a model file, and what rig
normalization makes of it (argument parsing only: rigs/inspect.py and rigs/check.py do the work).

`thagen rig survey` is added to the `rig` group by thagen/cli.py from render/rig_survey.py, since
its identity columns come from render/identity/.

Errors are ThagenError subclasses (ModelFormatError, ArchiveError) that thagen.cli.main prints
as one line naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from thagen.errors import ThagenError
from thagen.rigs import check as rig_check


@click.command("inspect")
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--member", help="Which model inside a .zip holding several (path or unique file name).")
@click.option("--bones", is_flag=True, help="Add a table of every bone (names to use in an override file).")
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where .zip archives are extracted (default: ~/.cache/thagen/archives).",
)
def inspect_command(
    model: Path, as_json: bool, member: str | None, bones: bool, cache_dir: Path | None
) -> None:
    """Show counts, names, bones, morphs and textures (found or missing) of MODEL (.pmx, .pmd, .vrm,
    .glb, .gltf or .zip), and its license (docs/licenses.md) from the model and its folder.

    The JSON always lists the bones; the text lists them with --bones."""
    from thagen.rigs.inspect import format_report, inspect_model, model_folder_license
    from thagen.rigs.reader import read_model

    chosen = None
    if model.suffix.lower() == ".zip":
        from thagen.rigs.formats.archive import choose_member

        chosen = choose_member(model, member)
    elif member is not None:
        raise click.BadParameter("only applies to .zip archives", param_hint="--member")
    loaded = read_model(model, member=chosen, cache_dir=cache_dir)
    record = model_folder_license(loaded, model, chosen)
    report = inspect_model(loaded, path=model, member=chosen, license=record)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        click.echo(format_report(report, bones=bones))


@click.group("rig")
def rig_group() -> None:
    """Find the bones and morphs thagen drives (head, neck, eye closes, mouth) in MMD models."""


@rig_group.command("check")
@click.argument("models", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--override",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Override file (docs/overrides.md) to use instead of one found beside each model.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON instead of tables.")
@click.option(
    "--pose-vector",
    type=click.Choice(["tha1", "tha2", "tha3"]),
    default="tha1",
    show_default=True,
    help="Also find every parameter of THA2's 42 / THA3's 45 and its availability.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where models inside zips are extracted.",
)
def check_command(
    models: tuple[Path, ...], override: Path | None, as_json: bool, pose_vector: str, cache_dir: Path | None
) -> None:
    """Show which bone or morph fills each role of each MODEL (.pmx, .pmd, .vrm, .glb, .gltf, .zip or folder),
    and its license (docs/licenses.md) from the model, its folder and the override file.

    Exits non-zero when a model cannot be read or lacks a required role (marked * in the table).
    """
    failed: list[str] = []
    out: list[dict[str, Any]] = []
    for path, member, error in rig_check.expand_inputs(models):
        label = rig_check.model_label(path, member)
        if error is None:
            try:
                report, record = rig_check.check_with_license(
                    path, member, override=override, cache_dir=cache_dir, pose_vector=pose_vector
                )
            except ThagenError as exc:
                error = str(exc)
        if error is not None:
            failed.append(f"error: {error}" if error.startswith(str(path)) else f"error: {label}: {error}")
            out.append({"path": str(path), "member": member, "error": error})
            if not as_json:
                click.echo(f"{label}  ERROR: {error}\n")
            continue
        out.append(
            {"path": str(path), "member": member, "report": report.to_dict(), "license": record.to_json()}
        )
        if not as_json:
            click.echo(rig_check.format_report(label, report, record) + "\n")
        if not report.ok:
            failed.append(f"error: {label}: missing required roles: {', '.join(report.missing_required)}")
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
    for line in failed:
        click.echo(line, err=True)
    if failed:
        raise SystemExit(1)
