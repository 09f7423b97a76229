"""Commands that report without changing anything: ``showmigrations``, ``sqlmigrate`` and
``plugins``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from umbral.cli.common import (
    AliasOpt,
    Body,
    command,
    load_app,
    note_missing_database,
    per_alias,
    rel,
)
from umbral.cli.output import err, out, paint
from umbral.cli.tenantscmd import TenantOpt, TenantsOpt, show_tenants


@command
def showmigrations_cmd(
    opts: dict,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    tenants: TenantsOpt = False,
    tenant: TenantOpt = None,
    alias: AliasOpt = None,
) -> Body:
    """List every migration and its state: [X] [ ] [!] [?] [~] [-] [/]."""

    def body() -> int:
        app = load_app(opts)
        # Conflicting branches are reported, but showmigrations always exits 0 (SPEC §9):
        # load both branches instead of failing on their shared sequence number.
        app.env.accept_branches = True
        if tenants:
            return show_tenants(app, as_json=as_json)
        if tenant is not None:
            return show(app, _tenant_entries(app, tenant))
        return per_alias(app, alias, as_json, lambda a: show(a, None))

    def show(app: Any, entries: list[Any] | None) -> int:
        from umbral.drift import State

        if entries is None:
            note_missing_database(app)
            entries = app.showmigrations()
        waiting_states = (State.PENDING, State.OUT_OF_ORDER, State.PARTIAL)
        applied = {e.key for e in entries if e.state not in waiting_states}
        for message in app.env.conflicts(app.env.plugin_names, applied):
            err(f"error: {message}")
        # A partly applied migration whose file is gone cannot be applied: only pruned.
        orphans = sum(e.state is State.PARTIAL and e.migration is None for e in entries)
        waiting = sum(e.state in waiting_states for e in entries) - orphans
        if as_json:
            data = {
                "migrations": [
                    {
                        "plugin": e.plugin,
                        "name": e.name,
                        "state": e.state.label,
                        "marker": e.state.marker,
                        **({"environment": e.environment} if e.environment else {}),
                        **({"progress": progress_json(e.progress)} if e.progress else {}),
                    }
                    for e in entries
                ],
                "not_applied": waiting,
            }
            import json

            out(json.dumps(data, indent=2))
            return 0
        plugin = None
        for e in entries:
            if e.plugin != plugin:
                if plugin is not None:
                    out("")
                plugin = e.plugin
                out(f"# plugin: {plugin}")
            note = f"  (skipped on {e.environment})" if e.environment else ""
            if e.progress is not None:
                doing = "un-applying: " if e.progress.backward else ""
                gone = "; its file is gone: `umbral migrate --prune`" if e.migration is None else ""
                note = f"  ({doing}{e.progress.describe()}{gone})"
            out(f"{paint(e.state.marker, e.state.marker)} {e.key}{note}")
        if waiting or orphans:
            out("")
        if waiting:
            out(f"{waiting} migration(s) not yet applied.")
        if orphans:
            gone = "partly applied migration(s) whose file is gone"
            out(f"{orphans} {gone}: `umbral migrate --prune`.")
        return 0

    return body


def _tenant_entries(app: Any, name: str) -> list[Any]:
    """One tenant's migrations and their states (``showmigrations --tenant NAME``)."""
    from umbral import tenants
    from umbral.errors import UmbralError

    found = tenants.status(app, tenants.tenants_of(app, name), full=True)[0]
    if found.error is not None:
        raise UmbralError(f"umbral showmigrations --tenant {name}: {found.error}")
    return found.entries


def progress_json(p: Any) -> dict[str, Any]:
    """Where a partly applied migration stopped, as ``showmigrations --json`` gives it."""
    return {
        "direction": "backward" if p.backward else "forward",
        "done": p.done,
        "total": p.total,
        "failed_statement": p.done + 1 if p.error is not None else None,
        "error": p.error,
    }


@command
def sqlmigrate_cmd(
    opts: dict,
    spec: Annotated[str, typer.Argument(metavar="PLUGIN/NAME", help="The migration to show.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> Body:
    """Print the SQL of one migration for the configured backend (nothing is run)."""

    def body() -> int:
        rendered = load_app(opts).sqlmigrate(spec)
        if as_json:
            import json

            data = {
                "migration": rendered.migration.key,
                "before": rendered.script_before,
                "operations": [
                    {
                        "description": description,
                        "statements": [str(s) for s in statements],
                        "run_time": ways,
                    }
                    for (description, statements), ways in zip(
                        rendered.parts, rendered.alternatives, strict=True
                    )
                ],
                "after": rendered.script_after,
            }
            out(json.dumps(data, indent=2))
            return 0
        out(f"-- {rendered.migration.key}")
        if rendered.script_before:
            out("-- as migrate runs it: before the first operation")
        for stmt in rendered.script_before:
            out(f"{stmt};")
        for (description, statements), ways in zip(
            rendered.parts, rendered.alternatives, strict=True
        ):
            out(f"-- {description}")
            for stmt in statements:
                # A Python step (RunPython) shows as a comment: it is no SQL to run.
                out(f"{stmt};" if isinstance(stmt, str) else str(stmt))
            for way in ways:
                out(f"-- at run time, if it applies: {way}")
        if rendered.script_after:
            out("-- as migrate runs it: after the last operation")
        for stmt in rendered.script_after:
            out(f"{stmt};")
        return 0

    return body


@command
def plugins_cmd(
    opts: dict,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> Body:
    """List plugins: distribution, models, migrations directory, hooks."""

    def body() -> int:
        infos = load_app(opts).plugins()
        rows = []
        for i in infos:
            rows.append(
                {
                    "name": i.name,
                    "kind": "app"
                    if not i.is_backend
                    else "backend"
                    if "umbral_backends" in i.hooks
                    else "extension",
                    "distribution": i.distribution,
                    "version": i.version,
                    "models": sorted(m.__name__ for m in i.models),
                    "migrations_dir": str(i.migrations_dir) if i.migrations_dir else None,
                    "read_only": i.read_only,
                    "hooks": i.hooks,
                }
            )
        if as_json:
            import json

            out(json.dumps(rows, indent=2))
            return 0
        for r in rows:
            dist = f"{r['distribution']} {r['version']}" if r["distribution"] else "project"
            out(f"{r['name']} ({r['kind']}, {dist})")
            if r["kind"] == "app":
                out(f"  models: {', '.join(r['models']) or '-'}")
                ro = " (read-only)" if r["read_only"] else ""
                out(f"  migrations: {rel(Path(r['migrations_dir']))}{ro}")
            out(f"  hooks: {', '.join(r['hooks']) or '-'}")
        return 0

    return body
