"""What every command shares: the ``--project/--database/--traceback`` options, the project's
``App``, and the wrapper that runs a command's body at the error boundary (``run_command``).

A command is written as ``fn(opts, **its_options) -> body``: it checks its flags (a usage error
raised there is exit 2), then returns the body that does the work. :func:`command` gives it the
shared options and the error boundary, so no command repeats them. Like every module of the CLI,
this one imports only typer at start-up (``umbral --help`` loads no SQLAlchemy, no driver).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from umbral.cli.output import err, out, run_command

#: What a command returns: its work, run at the error boundary; its result is the exit code.
Body = Callable[[], "int | None"]

ProjectOpt = Annotated[
    Path | None,
    typer.Option("--project", help="Project directory (default: found by walking up from the cwd).",
                 file_okay=False),
]  # fmt: skip
DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database", help="Database URL (overrides UMBRAL_DATABASE_URL and the config)."),
]
TracebackOpt = Annotated[
    bool, typer.Option("--traceback", help="Show a Python traceback on errors.")
]


def _parameter(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation, default=default
    )


_CONTEXT = inspect.Parameter(
    "ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
)
#: The options every command takes, after its own (``--help`` lists them last).
_SHARED = {
    "project": _parameter("project", ProjectOpt, None),
    "database": _parameter("database", DatabaseOpt, None),
    "traceback": _parameter("traceback", TracebackOpt, False),
}


def command(fn: Callable[..., Body] | None = None, *, project_options: bool = True) -> Any:
    """A typer command from ``fn(opts, **options)``: the command takes ``fn``'s options and then
    the shared ones; ``opts`` merges the shared options given before the command name with those
    given after it. ``project_options=False`` (``init``, which makes the project): only
    ``--traceback``."""

    def wrap(fn: Callable[..., Body]) -> Callable[..., None]:
        own = list(inspect.signature(fn, eval_str=True).parameters.values())[1:]  # past opts
        shared = [p for name, p in _SHARED.items() if project_options or name == "traceback"]

        def run(ctx: typer.Context, **options: Any) -> None:
            given = {name: options.pop(name, None) for name in _SHARED}
            opts = merge_options(ctx, given["project"], given["database"], bool(given["traceback"]))
            run_command(opts, fn(opts, **options))

        parameters = [_CONTEXT, *own, *shared]
        run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        # typer reads the signature above and resolves the annotations here.
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(run, attribute, getattr(fn, attribute))
        return run

    return wrap(fn) if fn is not None else wrap


def merge_options(ctx: typer.Context, project: Path | None, database: str | None, tb: bool) -> dict:
    """Merge global options given before the command with the same options given after it."""
    base = dict(ctx.obj or {})
    if project is not None:
        base["project"] = project
    if database is not None:
        base["database"] = database
    base["traceback"] = bool(base.get("traceback")) or tb
    return base


def load_app(opts: dict) -> Any:
    from umbral.app import App
    from umbral.config import find_project, load_project
    from umbral.errors import ConfigError

    project = opts.get("project")
    cfg = load_project(project) if project else find_project()
    if cfg is None:
        raise ConfigError(
            f"no umbral project found in {Path.cwd()} or its parents (looked for umbral.toml and "
            "[tool.umbral] in pyproject.toml); run `umbral init` or pass --project DIR"
        )
    app = App.from_config(cfg, database=opts.get("database"))
    from umbral.cli.plugincmds import warn_shadowing

    warn_shadowing(app.env.pm)
    return app


def note_missing_database(app: Any) -> None:
    """Say on stderr that a read-only command read a not-yet-created database as empty (a
    mistyped path shows here, not as a silent "nothing applied")."""
    missing = app.missing_database()
    if missing is not None:
        err(
            f"note: database {missing} does not exist yet: read as empty, and not created "
            "(`umbral migrate` creates it)"
        )


def rel(path: Path | None) -> str:
    """``path`` relative to the cwd when it is below it, as commands print paths."""
    if path is None:
        return "-"
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


AliasOpt = Annotated[
    str | None,
    typer.Option(
        "--alias",
        metavar="NAME",
        help="Only the database this alias names ([tool.umbral.databases]); default: each.",
    ),
]


def per_alias(app: Any, alias: str | None, as_json: bool, run: Callable[[Any], int]) -> int:
    """``run`` on the database ``--alias`` names, or on each database of the project in
    plugin order under a ``# database: NAME`` line (``--json``: one object,
    ``{"databases": {NAME: what run printed}}``); the worst exit code. A project with one
    database prints exactly what ``run`` does."""
    if alias is not None:
        return run(app.for_alias(alias))
    names = app.aliases()
    if len(names) == 1:
        return run(app)
    code = 0
    if as_json:
        import io
        import json
        from contextlib import redirect_stdout

        found = {}
        for name in names:
            buffer = io.StringIO()
            try:
                with redirect_stdout(buffer):
                    code = max(code, run(app.for_alias(name)))
            except Exception:
                # A failure on this database ends the run: what the ones before it printed
                # still comes out, with what this one printed of its failure, if anything.
                if buffer.getvalue().strip():
                    found[name] = json.loads(buffer.getvalue())
                out(json.dumps({"databases": found}, indent=2))
                raise
            found[name] = json.loads(buffer.getvalue())
        out(json.dumps({"databases": found}, indent=2))
        return code
    for index, name in enumerate(names):
        if index:
            out("")
        out(f"# database: {name}")
        code = max(code, run(app.for_alias(name)))
    return code
