"""`thagen inspect MODEL`: what is inside a PMX/PMD file or a model archive.

Errors are ThagenError subclasses (ModelFormatError, ArchiveError) that thagen.cli.main prints
as one line naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import click


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
    .glb, .gltf or .zip).

    The JSON always lists the bones; the text lists them with --bones."""
    from thagen.rigs.inspect import format_report, inspect_model
    from thagen.rigs.reader import read_model

    chosen = None
    if model.suffix.lower() == ".zip":
        from thagen.rigs.formats.archive import choose_member

        chosen = choose_member(model, member)
    elif member is not None:
        raise click.BadParameter("only applies to .zip archives", param_hint="--member")
    loaded = read_model(model, member=chosen, cache_dir=cache_dir)
    report = inspect_model(loaded, path=model, member=chosen)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        click.echo(format_report(report, bones=bones))
