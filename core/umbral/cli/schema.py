"""``checkschema``: schema drift between the database and its applied migrations."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from umbral.cli.common import AliasOpt, Body, command, load_app, note_missing_database, per_alias
from umbral.cli.output import err, out


@command
def checkschema_cmd(
    opts: dict,
    sql: Annotated[
        bool, typer.Option("--sql", help="Print the SQL that repairs the drift (never run).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also list tables and views that no plugin owns.")
    ] = False,
    alias: AliasOpt = None,
) -> Body:
    """Tell whether the live schema is what the applied migrations say (read only)."""

    def body() -> int:
        return per_alias(load_app(opts), alias, as_json, one)

    def one(app: Any) -> int:
        note_missing_database(app)
        check = app.checkschema()
        if check.partial:
            # Not compared: an error line (per database, so the others are still checked).
            if as_json:
                out(json.dumps(_check_json(check, None, show_all=False, sql=False), indent=2))
            else:
                from umbral.guards import not_compared

                command = "umbral checkschema" + (" --sql" if sql else "")
                err(f"error: {not_compared(command, check.partial, check.partial_gone)}")
            return 1
        repair = app.render_repair(check) if sql else None
        if as_json:
            out(json.dumps(_check_json(check, repair, show_all=show_all, sql=sql), indent=2))
        elif sql:
            _print_sql(repair)
        else:
            _print_check(check, show_all=show_all)
        return 1 if check.differences else 0

    return body


def _check_json(check: Any, repair: Any, *, show_all: bool, sql: bool) -> dict:
    """``checkschema --json``."""
    from umbral.cli.status import progress_json

    data: dict = {
        # null: not compared, while a migration is partly applied
        "drift": None if check.partial else bool(check.differences),
        "partly_applied": [
            {"migration": key, **progress_json(p)} for key, p in sorted(check.partial.items())
        ],
        "plugins": [{"plugin": p.plugin, "migration": p.migration} for p in check.promises],
        "differences": [
            {"plugin": d.plugin, "sign": d.sign, "message": d.message,
             "destructive": d.destructive}
            for d in check.differences
        ],
    }  # fmt: skip
    if show_all:
        data["outside"] = check.outside
    if sql:
        data["repair"] = [
            {"description": description, "statements": statements, "destructive": destructive}
            for description, statements, destructive in repair.operations
        ]
        data["before"], data["after"] = repair.before, repair.after
    return data


def _print_check(check: Any, *, show_all: bool) -> None:
    if not check.promises:
        out("No applied migrations: nothing to compare")
    plugin = None
    for d in check.differences:
        if d.plugin != plugin:
            if plugin is not None:
                out("")
            plugin = d.plugin
            where = next(p.migration for p in check.promises if p.plugin == plugin)
            out(f"# plugin: {plugin} (applied up to {where})")
        out(d.line)
    if show_all and check.outside:
        if check.differences:
            out("")
        out("# owned by no plugin (not compared)")
        for line in check.outside:
            out(f"  {line}")
    if check.differences:
        out("")
        out(
            f"Schema drift: {len(check.differences)} difference(s). "
            "`umbral checkschema --sql` prints the SQL that repairs them."
        )
    elif check.promises:
        out(
            "No schema drift: the database matches the applied migrations of "
            f"{len(check.promises)} plugin(s)"
        )


def _print_sql(repair: Any) -> None:
    if not repair.operations:
        out("-- no schema drift: nothing to repair")
        return
    out("-- umbral checkschema: the SQL that brings the database back to its migrations.")
    out("-- It was not run: review it, then apply it yourself.")
    if repair.before:
        out("-- as migrate would run it: before the first operation")
        _print_statements(repair.before)
    for description, statements, destructive in repair.operations:
        out(f"-- {'DESTRUCTIVE: ' if destructive else ''}{description}")
        _print_statements(statements)
    if repair.after:
        out("-- as migrate would run it: after the last operation")
        _print_statements(repair.after)


def _print_statements(statements: list[str]) -> None:
    for stmt in statements:
        out(stmt.rstrip().rstrip(";") + ";")
