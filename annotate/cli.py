"""`thagen annotate auto` and `thagen annotate serve`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

DEFAULT_CACHE = Path("~/.cache/thagen/annotate")

annotations_option = click.option(
    "--annotations",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for <id>.annotation.yaml files (default: beside each model).",
)
cache_option = click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_CACHE,
    show_default=True,
    help="Cache of suggestions and front renders.",
)


@click.group("annotate")
def annotate_group() -> None:
    """Head-top / chin annotations: suggestions with confidence and a browser tool."""


@annotate_group.command("auto")
@click.argument("models", nargs=-1, required=True)
@annotations_option
@cache_option
def auto_command(models: tuple[str, ...], annotations: Path | None, cache_dir: Path) -> None:
    """Write `source: auto` annotations (the estimate and its confidence) for MODELS_OR_MANIFEST.

    A character a person already annotated or skipped is left alone."""
    from thagen.annotate.tool.catalog import build_catalog
    from thagen.annotate.tool.store import Store
    from thagen.annotate.tool.suggest import cached_suggestion

    catalog = build_catalog(list(models), annotations)
    store = Store()
    failed = 0
    for ch in catalog:
        sugg = cached_suggestion(ch, cache_dir.expanduser())
        if not sugg.ok:
            failed += 1
            click.echo(f"{ch.id}: failed: {sugg.error}", err=True)
            continue
        wrote = store.write_auto(ch, sugg.to_annotation(ch))
        what = f"wrote {ch.annotation_path}" if wrote else "kept the person's answer"
        why = f" ({'; '.join(sugg.reasons)})" if sugg.reasons else ""
        click.echo(f"{ch.id}: confidence {sugg.confidence:.2f}{why}: {what}")
    click.echo(f"{len(catalog) - failed} of {len(catalog)} characters suggested", err=True)
    if failed:
        sys.exit(1)


@annotate_group.command("serve")
@click.argument("models", nargs=-1)
@annotations_option
@cache_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Any other host requires a token.")
@click.option("--port", type=click.IntRange(0, 65535), default=8750, show_default=True)
@click.option("--annotator", default="", help="Name recorded in every annotation saved.")
@click.option("--review", is_flag=True, help="Only low-confidence and flagged characters.")
@click.option(
    "--size", type=click.IntRange(256, 4096), default=768, show_default=True, help="Front render size."
)
@click.option("--samples", type=click.IntRange(1), default=4, show_default=True)
@click.option("--prefetch", type=click.IntRange(0), default=3, show_default=True)
@click.option(
    "--qa",
    "qa_outputs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A `thagen render` output: the characters it held back come first, with each QA flag's "
    "reason, then the other flagged ones (repeatable). Without MODELS, the manifest and "
    "--annotations folder it was rendered with.",
)
@click.option("--no-render", is_flag=True, help="No front renders (API only, no Blender worker).")
@click.option(
    "--no-thumbs", is_flag=True, help="No small renders of the whole queue (only of characters opened)."
)
def serve_command(
    models: tuple[str, ...],
    annotations: Path | None,
    cache_dir: Path,
    host: str,
    port: int,
    annotator: str,
    review: bool,
    size: int,
    samples: int,
    prefetch: int,
    qa_outputs: tuple[Path, ...],
    no_render: bool,
    no_thumbs: bool,
) -> None:
    """Start the annotation tool for MODELS_OR_MANIFEST (or the manifests of the --qa outputs)
    and print the URL to open."""
    from thagen.annotate.front.cache import FrontSettings
    from thagen.annotate.tool.catalog import build_catalog
    from thagen.annotate.tool.qa_flags import read_qa_review, rendered_from

    try:
        from thagen.annotate.tool.server import ServerOptions, run_server
    except ModuleNotFoundError as exc:
        raise click.ClickException(
            f"'thagen annotate serve' needs {exc.name!r}: pip install 'thagen[annotate]'"
        ) from exc

    if not models and not qa_outputs:
        raise click.UsageError("give MODELS (models, folders, zips, 'builtin' or a manifest) or --qa OUT")
    inputs = list(models)
    for out in qa_outputs if not models else ():
        manifest, folder = rendered_from(out)  # the manifest and annotations the render used
        inputs.append(manifest)
        annotations = annotations or folder
    catalog = build_catalog(inputs, annotations)
    qa_review = read_qa_review(list(qa_outputs))
    options = ServerOptions(
        host=host,
        port=port,
        annotator=annotator,
        review=review,
        cache_dir=cache_dir.expanduser(),
        front=FrontSettings(size=size, samples=samples),
        prefetch=prefetch,
        render=not no_render,
        thumbs=not no_thumbs,
        qa_flags=qa_review.flags,
        qa_reasons=qa_review.reasons,
        held_back=qa_review.held_back,
    )
    run_server(catalog, options, announce=lambda url: click.echo(f"thagen annotate: open {url}", err=True))


@annotate_group.command("merge")
@click.argument("folders", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The merged folder (files already there count as one more input).",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(0.0),
    default=0.01,
    show_default=True,
    help="Two people's answers further apart than this fraction of the head height conflict.",
)
def merge_command(folders: tuple[Path, ...], out: Path, tolerance: float) -> None:
    """Merge several annotators' --annotations FOLDERS into --out.

    A person's answer beats the estimate, a newer one an older one; two people who disagree
    are listed as a conflict (exit status 1) and neither answer is written."""
    from thagen.annotate.merge import merge_folders

    result = merge_folders(list(folders), out, tolerance)
    for line in result.problems:
        click.echo(f"unreadable, left out: {line}", err=True)
    for conflict in result.conflicts:
        click.echo(conflict.line(), err=True)
    kinds = [a.kind for a in result.written.values()]
    click.echo(
        f"{len(kinds)} characters written to {out} ({kinds.count('manual')} manual, "
        f"{kinds.count('skip')} skipped, {kinds.count('auto')} auto); "
        f"{len(result.conflicts)} conflicts left to decide",
        err=True,
    )
    if result.conflicts or result.problems:
        sys.exit(1)
