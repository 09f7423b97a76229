"""Plugin commands (the ``umbral_commands`` hook): registered on the whole CLI, and the warning
about one that a built-in command shadows."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from umbral.cli.output import err
from umbral.errors import UmbralError

BUILTIN_COMMANDS = (  # in the order `umbral --help` lists them
    "init", "makemigrations", "migrate", "showmigrations", "sqlmigrate", "inspectdb", "plugins",
    "checkmigrations", "squashmigrations", "checkschema", "graph",
)  # fmt: skip


class Registrar:
    """What ``umbral_commands(cli)`` receives: ``cli.command("name")(function)``. Without a
    ``cli`` it only notes the names (a run of a built-in command, see ``warn_shadowing``): a
    plugin command that would shadow a built-in is reported either way."""

    def __init__(self, cli: typer.Typer | None) -> None:
        self.cli = cli
        self.dropped: list[str] = []

    def command(self, name: str | None = None, **kwargs: Any) -> Any:
        def register(fn: Any) -> Any:
            cmd = name or fn.__name__.replace("_", "-")
            if cmd in BUILTIN_COMMANDS:
                self.dropped.append(cmd)
                return fn
            if self.cli is None:
                return fn
            return self.cli.command(cmd, rich_help_panel="Plugin commands", **kwargs)(fn)

        return register


def warn_shadowing(pm: Any) -> None:
    """Warn about each plugin command of ``pm``'s plugins that a built-in shadows, registering
    none: a built-in command's run, which loads the plugins once, for its environment."""
    _collect(pm, Registrar(None))


def add_plugin_commands(cli: typer.Typer) -> None:
    """Register the plugins' commands on ``cli`` (the whole CLI: ``umbral --help``, a plugin
    command), warning about each that a built-in shadows."""
    from umbral.plugins import load_plugins, new_manager

    pm = new_manager(core_rules=False)  # only umbral_commands is called on it
    try:
        cfg = _project_for_commands()
        if cfg is not None and str(cfg.root) not in sys.path:
            sys.path.insert(0, str(cfg.root))
        infos = load_plugins(pm, cfg.plugin_modules if cfg else None)
    except UmbralError:
        return  # the failing plugin is reported by whichever command loads plugins next
    if cfg is not None and cfg.plugins is not None:
        for name, info in infos.items():
            if not info.is_backend and name not in cfg.plugins:
                pm.unregister(name=name)
    _collect(pm, Registrar(cli))


def _collect(pm: Any, registrar: Registrar) -> None:
    pm.hook.umbral_commands(cli=registrar)
    for name in registrar.dropped:
        err(f"warning: a plugin command named `{name}` was dropped: it would shadow a built-in")


def _project_for_commands() -> Any:
    """The project whose plugin modules may add commands: ``--project`` on argv, or found
    from the cwd. Only the cheap TOML read happens here; None when there is no project."""
    from umbral.config import find_project, load_project

    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg == "--project" and i + 1 < len(argv):
            return load_project(Path(argv[i + 1]))
        if arg.startswith("--project="):
            return load_project(Path(arg.split("=", 1)[1]))
    return find_project()
