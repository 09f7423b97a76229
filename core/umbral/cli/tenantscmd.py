"""``migrate --tenants`` and ``showmigrations --tenants``: the options they share and what
they print (``umbral.tenants`` does the work)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from umbral.cli.output import err, out

TenantsOpt = Annotated[
    bool,
    typer.Option(
        "--tenants",
        help="Every tenant schema of [tool.umbral.tenants] (after the default schema).",
    ),
]
TenantOpt = Annotated[
    str | None,
    typer.Option("--tenant", metavar="NAME", help="Only this tenant (its schema or URL#schema)."),
]
JobsOpt = Annotated[
    int | None,
    typer.Option(
        "--jobs", min=1, metavar="N", help="Tenants at once (default: tenants.jobs, else 8)."
    ),
]


def refuse_with_tenants(given: dict[str, Any], one: str = "database") -> None:
    """What ``--tenants`` (with ``one="tenant"``) or ``--tenant`` too cannot be combined with
    (a usage error, exit 2)."""
    with_ = "--tenants/--tenant" if one == "database" else "--tenants: name one with --tenant NAME"
    for flag, value in given.items():
        if value is not None and value is not False:
            raise typer.BadParameter(
                f"{flag} works on one {one}; it cannot be combined with {with_}",
                param_hint="--tenants",
            )


def migrate_tenants(
    app: Any, *, only: str | None, jobs: int | None, create: bool, fail_fast: bool,
    verbose: bool, as_json: bool, options: dict[str, Any], fake: str | None = None,
    from_statement: int | None = None, prune: bool = False,
) -> int:  # fmt: skip
    """Run ``umbral.tenants.migrate`` and print it: a line per tenant that applied something
    or failed (every tenant with ``-v``) as it finishes, then the summary."""
    from umbral import tenants

    chosen = tenants.tenants_of(app, only)

    def heard(o: tenants.Outcome) -> None:
        for warning in o.warnings:
            err(f"warning: tenant {o.tenant.name}: {warning}")
        if as_json or (o.state == "up to date" and o.message is None and not verbose):
            return
        if o.state == "failed":
            err(f"error: tenant {o.tenant.name}: {o.error}")
        elif o.message is not None:
            for line in o.message.splitlines():
                out(f"{o.tenant.name}: {line}")
        elif o.state == "applied":
            out(f"{o.tenant.name}: applied {len(o.applied)} migration(s)")
        else:
            out(f"{o.tenant.name}: {o.state}")

    def shared(done: Any) -> None:
        if done.applied and not as_json:
            out(f"Default schema: applied {len(done.applied)} migration(s)")

    result = tenants.migrate(
        app, chosen, jobs=jobs, create=create, fail_fast=fail_fast, on_shared=shared,
        on_outcome=heard, fake=fake, from_statement=from_statement, prune=prune, **options,
    )  # fmt: skip
    if as_json:
        out(json.dumps(_fleet_json(result), indent=2))
    else:
        out(_summary(result))
        for o in result.failed:
            out(f"  failed: {o.tenant.name}: {(o.error or '').splitlines()[0]}")
    return 1 if result.failed else 0


def _summary(result: Any) -> str:
    parts = [
        f"{result.count('up to date')} up to date",
        f"{result.count('applied')} applied",
        f"{result.count('failed')} failed",
    ]
    if result.count("not run"):
        parts.append(f"{result.count('not run')} not run (--fail-fast)")
    return f"{len(result.outcomes)} tenant(s): {', '.join(parts)}"


def _fleet_json(result: Any) -> dict[str, Any]:
    shared = result.shared
    return {
        "shared": {"applied": list(shared.applied) if shared is not None else []},
        "tenants": [
            {
                "tenant": o.tenant.name,
                "schema": o.tenant.schema,
                "state": o.state,
                "applied": list(o.applied),
                "error": o.error,
                "warnings": list(o.warnings),
                "seconds": round(o.seconds, 6),
                **({"message": o.message} if o.message is not None else {}),
            }
            for o in result.outcomes
        ],
        "summary": {
            state.replace(" ", "_"): result.count(state)
            for state in ("up to date", "applied", "failed", "not run")
        },
    }


def show_tenants(app: Any, *, as_json: bool) -> int:
    """``showmigrations --tenants``: per tenant, how many migrations are in each state."""
    from umbral import tenants
    from umbral.drift import State

    statuses = tenants.status(app, tenants.tenants_of(app))
    waiting = (State.PENDING, State.OUT_OF_ORDER, State.PARTIAL)
    # What `migrate` refuses as drift: such a tenant is neither up to date nor just behind.
    drifting = (State.MISSING, State.EDITED)
    rows = []
    for s in statuses:
        counts: dict[str, int] = {}
        for e in s.entries:
            counts[e.state.label] = counts.get(e.state.label, 0) + 1
        behind = sum(e.state in waiting for e in s.entries)
        drift = sum(e.state in drifting for e in s.entries)
        rows.append((s, counts, behind, drift))
    if as_json:
        data = {
            "tenants": [
                {"tenant": s.tenant.name, "schema": s.tenant.schema, "states": counts,
                 "not_applied": behind, "drift": drift, "error": s.error}
                for s, counts, behind, drift in rows
            ]
        }  # fmt: skip
        out(json.dumps(data, indent=2))
        return 0
    for s, counts, _, _ in rows:
        if s.error is not None:
            out(f"{s.tenant.name}: cannot be read: {s.error.splitlines()[0]}")
        else:
            shown = ", ".join(f"{n} {label}" for label, n in sorted(counts.items())) or "nothing"
            out(f"{s.tenant.name}: {shown}")
    unread = sum(1 for s, *_ in rows if s.error is not None)
    drifted = sum(1 for s, _, _, d in rows if s.error is None and d)
    behind = sum(1 for s, _, b, d in rows if s.error is None and b and not d)
    fine = len(rows) - unread - drifted - behind
    line = f"{len(rows)} tenant(s): {fine} up to date, {behind} behind"
    if drifted:
        line += f", {drifted} with drift (showmigrations --tenant NAME)"
    if unread:
        line += f", {unread} unreadable"
    out("")
    out(line)
    return 0
