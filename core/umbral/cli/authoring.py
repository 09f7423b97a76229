"""Commands that write a project's files: ``init``, ``makemigrations`` and ``inspectdb``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from umbral.cli.common import Body, command, load_app, rel
from umbral.cli.output import err, out


@command(project_options=False)
def init_cmd(
    opts: dict,
    directory: Annotated[Path, typer.Argument(help="Project directory.")] = Path("."),
    pyproject: Annotated[
        bool, typer.Option("--pyproject", help="Append [tool.umbral] to pyproject.toml.")
    ] = False,
    database_url: Annotated[
        str, typer.Option("--database-url", help="Database URL to write.")
    ] = "sqlite:///db.sqlite3",
) -> Body:
    """Write a starter configuration and models module."""

    def body() -> None:
        from umbral.init import init_project

        for line in init_project(directory, pyproject=pyproject, database=database_url):
            out(line)

    return body


@command
def makemigrations_cmd(
    opts: dict,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if changes are pending; write nothing.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be written; write nothing.")
    ] = False,
    empty: Annotated[
        str | None, typer.Option("--empty", metavar="PLUGIN", help="Write an empty migration.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Migration name suffix.")] = None,
    python: Annotated[
        bool,
        typer.Option(
            "--python",
            help="With --empty: a RunPython data migration and a skeleton module beside it.",
        ),
    ] = False,
    merge: Annotated[
        bool, typer.Option("--merge", help="Write merge migrations for conflicting branches.")
    ] = False,
    compat: Annotated[
        bool,
        typer.Option(
            "--compat",
            help="Renames leave a compatibility view so the previous release keeps working.",
        ),
    ] = False,
    drop_compat: Annotated[
        str | None,
        typer.Option(
            "--drop-compat",
            metavar="NAME",
            help="Write the contract migration that drops compatibility shim NAME.",
        ),
    ] = None,
    backfill: Annotated[
        list[str] | None,
        typer.Option(
            "--backfill",
            metavar="MODEL.COLUMN=VALUE",
            help="One-off value (JSON; bare text is a string) for the existing rows of a NOT "
            "NULL column without a default; not kept as its default. Repeatable.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> Body:
    """Diff models against the latest snapshots and write migration files."""
    if python and empty is None:
        raise typer.BadParameter("--python goes with --empty PLUGIN", param_hint="--python")
    from umbral.cli.backfill import ask

    backfills = _backfill_flags(backfill)
    # On a terminal, makemigrations asks for what --backfill does not give.
    interactive = sys.stdin is not None and sys.stdin.isatty() and not (check or as_json)

    def body() -> int:
        app = load_app(opts)
        result = app.makemigrations(
            check=check,
            dry_run=dry_run,
            empty=empty,
            name=name,
            merge=merge,
            compat=compat,
            drop_compat=drop_compat,
            backfill=ask if interactive else None,
            backfills=backfills,
            python=python,
        )
        if as_json:
            import json

            out(json.dumps(_made_json(result), indent=2))
            return 1 if check and result.migrations else 0
        for note in result.notes:
            (out if note.stream == "stdout" else err)(note.text)
        if not result.migrations:
            out("no conflicts to merge" if merge else "no changes detected")
            return 0
        if check or dry_run:
            _print_would_write(result.migrations, dry_run=dry_run)
            return 1 if check else 0
        _print_written(
            result.migrations, " (empty)" if empty and not python else " (merge)" if merge else ""
        )
        if python:
            out("Write the data change in forward() (and its undo in backward()) of that module")
        elif empty:
            out(
                'Add operations by hand, e.g. {"kind": "RunSql", "sql": "UPDATE ...", '
                '"reverse_sql": "..."}'
            )
        return 0

    return body


def _backfill_flags(values: list[str] | None) -> dict[str, Any]:
    """The ``--backfill`` values by ``model.column``; a bad one is a usage error (exit 2)."""
    from umbral.cli.backfill import parse_backfills

    try:
        return parse_backfills(values)
    except typer.BadParameter as exc:
        raise typer.BadParameter(str(exc), param_hint="'--backfill'") from None


def _made_json(result: Any) -> dict:
    """``makemigrations --json``."""
    return {
        "written": result.written,
        "migrations": [
            {
                "migration": m.key,
                "path": str(rel(m.path)),
                "operations": [
                    {"kind": op.kind, "description": op.describe()} for op in m.operations
                ],
            }
            for m in result.migrations
        ],
        "notes": [{"stream": n.stream, "text": n.text} for n in result.notes],
    }


def _print_would_write(migrations: list[Any], *, dry_run: bool) -> None:
    """``--check`` and ``--dry-run``: what would be written (with --dry-run, the files)."""
    for m in migrations:
        out(f"Would write {rel(m.path)}")
        for op in m.operations:
            out(f"  - {op.describe()}")
        if dry_run:
            out(m.dumps().rstrip("\n"))


def _print_written(migrations: list[Any], what: str) -> None:
    for m in migrations:
        out(f"Wrote {rel(m.path)}{what}")
        for extra in m.extra_files or {}:
            out(f"Wrote {rel(extra)}")


@command
def inspectdb_cmd(
    opts: dict,
    source: Annotated[
        str | None,
        typer.Argument(
            metavar="[DATABASE_URL_OR_SQLITE_PATH]",
            help="Database to read (a bare path is a SQLite file; default: the project's).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path, typer.Option("--output", help="Directory for models.py and migrations/.")
    ] = ...,  # type: ignore[assignment]  # required: typer reports a missing --output (exit 2)
    plugin: Annotated[
        str, typer.Option("--plugin", help="Plugin that owns the written models.")
    ] = "app",
    mark_applied: Annotated[
        bool,
        typer.Option("--mark-applied", help="Record the initial migration in that database."),
    ] = False,
    include: Annotated[
        list[str] | None,
        typer.Option(
            "--include",
            metavar="PATTERN",
            help="Read only the tables matching PATTERN (shell-style: auth_*); repeatable.",
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude",
            metavar="PATTERN",
            help="Leave out the tables matching PATTERN (e.g. django_migrations); repeatable.",
        ),
    ] = None,
) -> Body:
    """Write models and an initial migration from an existing database (read-only)."""

    def body() -> int:
        import os

        from umbral.config import ENV_DATABASE
        from umbral.inspect import inspectdb

        # Works without a project when the database is named; otherwise the project's (SPEC §11).
        url = source or opts.get("database") or os.environ.get(ENV_DATABASE)
        root = Path.cwd()
        if url is None:
            app = load_app(opts)
            url, root = app.database_url, app.root
        result = inspectdb(
            url,
            Path.cwd() / output,
            plugin=plugin,
            mark_applied=mark_applied,
            include=include or (),
            exclude=exclude or (),
            root=root,
        )
        for warning in result.warnings:
            err(f"warning: umbral inspectdb: {warning}")
        if not result.tables:
            out("no tables found in the database")
            return 0
        out(f"Inspected {result.tables} table(s), {result.columns} column(s)")
        for path in result.written:
            out(f"Wrote {rel(path)}")
        if result.marked_applied:
            out(f"Marked {result.marked_applied} as applied (no SQL executed)")
        return 0

    return body
