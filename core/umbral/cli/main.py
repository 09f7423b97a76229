"""Command definitions. Output conventions (SPEC §12): results on stdout; ``error: ...`` and
``warning: ...`` on stderr; exit 0 success, 1 refusal or error, 2 usage error."""

from __future__ import annotations

import gc
import importlib
import sys
from typing import Annotated, Any

import typer

from umbral.cli import interrupt
from umbral.cli.common import DatabaseOpt, ProjectOpt, TracebackOpt
from umbral.cli.output import out
from umbral.cli.plugincmds import BUILTIN_COMMANDS, add_plugin_commands


def _print_version(value: bool) -> None:
    if not value:
        return
    from umbral.entrypoints import entry_points, find_distribution, normalize

    core = find_distribution("umbral-core")
    version = core.version if core and core.version else "unknown"
    out(f"umbral-core {version}" + (" (editable)" if core and core.editable else ""))
    seen = {"umbral-core"}
    for ep in entry_points("umbral"):
        dist = ep.distribution()
        if normalize(dist.name) in seen:
            continue
        seen.add(normalize(dist.name))
        out(f"{dist.name} {dist.version or 'unknown'}" + (" (editable)" if dist.editable else ""))
    raise typer.Exit(0)


def _root_callback(
    ctx: typer.Context,
    project: ProjectOpt = None,
    database: DatabaseOpt = None,
    traceback: TracebackOpt = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Show umbral's and every installed plugin's version, then exit.",
        ),
    ] = False,
    no_color: Annotated[
        bool,
        typer.Option("--no-color", help="No colour (also NO_COLOR, and when not a terminal)."),
    ] = False,
) -> None:
    """Schema migrations for Python: models in, JSON migrations out, applied safely."""
    ctx.obj = {"project": project, "database": database, "traceback": traceback}


# -- assembly --------------------------------------------------------------------------------


#: The module of ``umbral.cli`` that defines each built-in command, by the job it does.
_COMMAND_MODULES = {
    "init": "authoring", "makemigrations": "authoring", "inspectdb": "authoring",
    "migrate": "migratecmd",
    "showmigrations": "status", "sqlmigrate": "status", "plugins": "status",
    "checkmigrations": "deploy", "squashmigrations": "deploy",
    "checkschema": "schema", "graph": "graphcmd",
}  # fmt: skip


def _builtin(name: str) -> Any:
    # Imported on demand: a run registers (and so imports) only the command it invokes.
    module = importlib.import_module(f"umbral.cli.{_COMMAND_MODULES[name]}")
    return getattr(module, f"{name}_cmd")


def build_cli(plugin_commands: bool = True, only: str | None = None) -> typer.Typer:
    """The ``umbral`` command group. ``only`` (a built-in command's name) registers just that
    command: on every run typer turns each registered command's signature into click options,
    which for all of them costs more than the command a run invokes (``invoked_command``).
    Such a run collects no plugin commands: the command's own load of the plugins warns about
    one that would shadow a built-in (``warn_shadowing``)."""
    cli = typer.Typer(
        name="umbral",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    cli.callback()(_root_callback)
    for name in (only,) if only else BUILTIN_COMMANDS:
        cli.command(name)(_builtin(name))
    if plugin_commands and only is None:
        add_plugin_commands(cli)
    return cli


def invoked_command(argv: list[str]) -> str | None:
    """The built-in command ``argv`` runs, found past the global options; None when it is not
    plainly one (help, a plugin command, a mistake): the whole CLI then answers."""
    args = iter(argv)
    for arg in args:
        if arg in ("--project", "--database"):
            next(args, None)
        elif arg == "--traceback" or arg.startswith(("--project=", "--database=")):
            continue
        else:
            return arg if arg in BUILTIN_COMMANDS else None
    return None


def main() -> None:
    # A command is one short process. The cyclic garbage collector would walk every object
    # alive, the imported libraries' included, each time allocations pile up (over and over
    # while SQLAlchemy imports) and once more at exit, to find cycles that umbral hardly makes:
    # reference counting frees its garbage. Without it a command runs 0.1-0.5 s faster, and
    # peak memory on the benchmark projects is unchanged (docs/decisions.md).
    interrupt.install()  # again, for callers that skip ``umbral.cli.main`` the function
    gc.disable()
    if "--no-color" in sys.argv[1:]:
        # A global flag that may stand anywhere on the command line: taken out before the
        # commands parse their own options.
        from umbral.cli import output

        output.NO_COLOR_FLAG = True
        sys.argv = [sys.argv[0], *(a for a in sys.argv[1:] if a != "--no-color")]
    try:
        cli = build_cli(only=invoked_command(sys.argv[1:]))
        cli(prog_name="umbral")
    except KeyboardInterrupt:  # before the CLI library's handling of it
        interrupt.exit_interrupted()
    except BaseException:
        # typer ends an interrupted command with a silent exit 130; a clean-up after the
        # interrupt may also fail in its own way: either way the interrupt is what to report.
        if interrupt.happened():
            interrupt.exit_interrupted()
        raise
    finally:
        interrupt.finish()
        # The interpreter's exit still runs a collection: frozen objects are skipped by it.
        gc.freeze()
