"""The `thagen` command line.

Subcommands live next to the code they drive (`thagen.rigs.cli`, `thagen.render.cli`,
`thagen.train.cli`) and are imported only when used, so `thagen inspect` never pays for
importing bpy or torch.
"""

from __future__ import annotations

import importlib
import sys
import traceback

import click

from thagen import __version__
from thagen.errors import ThagenError

# command name -> "module:attribute" of a click command or group
LAZY_COMMANDS: dict[str, str] = {
    "inspect": "thagen.rigs.cli:inspect_command",
    "rig": "thagen.rigs.cli:rig_group",
    "render": "thagen.render.cli:render_command",
    "render-one": "thagen.render.cli:render_one_command",
    "qa": "thagen.render.cli:qa_command",
    "status": "thagen.render.cli:status_command",
    "merge": "thagen.render.cli:merge_command",
    "train": "thagen.train.cli:train_group",
    "animate": "thagen.train.cli:animate_command",
    "annotate": "thagen.annotate.cli:annotate_group",
}
# Commands joined to a group from a higher layer: `rig survey` needs character identity (render/).
GROUP_EXTRAS: dict[str, tuple[str, ...]] = {"rig": ("thagen.render.rig_survey:survey_command",)}


def _load(spec: str) -> click.Command:
    module_name, attr = spec.split(":")
    command = getattr(importlib.import_module(module_name), attr)
    assert isinstance(command, click.Command), spec
    return command


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            try:
                command = _load(LAZY_COMMANDS[cmd_name])
                if isinstance(command, click.Group):
                    for extra in GROUP_EXTRAS.get(cmd_name, ()):
                        sub = _load(extra)
                        command.add_command(sub, sub.name)
            except ModuleNotFoundError as exc:
                raise click.ClickException(
                    f"'thagen {cmd_name}' needs the missing module {exc.name!r}"
                    + (
                        " (install the 'train' extra: pip install 'thagen[train]')"
                        if exc.name == "torch"
                        else ""
                    )
                ) from exc
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="thagen")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """thagen: render Talking Head Anime training data from MMD models."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main(argv: list[str] | None = None) -> None:
    """Entry point: ThagenError becomes one line on stderr and exit status 1."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ThagenError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence for a CLI
        if debug:
            traceback.print_exc()
        else:
            click.echo(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
