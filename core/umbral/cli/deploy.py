"""Deploy-safety commands: ``checkmigrations`` and ``squashmigrations`` (SPEC §10, §5)."""

from __future__ import annotations

import json
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


@command
def checkmigrations_cmd(
    opts: dict,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on WARNING findings too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Check the migrations added since --since, no database."),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="REV",
            help="With --offline: git revision (default: merge base with main).",
        ),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            metavar="NAME",
            help="With --offline: whose rules apply (default: the config URL's).",
        ),
    ] = None,
    allow_drift: Annotated[
        bool,
        typer.Option(
            "--allow-drift", help="Check despite missing or edited files (migrate's flag too)."
        ),
    ] = False,
    alias: AliasOpt = None,
) -> Body:
    """Tell whether the pending migrations are safe for a rolling deploy."""
    if not offline and (since is not None or backend is not None):
        raise typer.BadParameter("--since and --backend go with --offline")
    if offline and allow_drift:
        raise typer.BadParameter("--allow-drift goes without --offline (no database is read)")

    def body() -> int:
        app = load_app(opts)
        return one(app) if offline else per_alias(app, alias, as_json, one)

    def one(app: Any) -> int:
        from umbral.compat import live_shims
        from umbral.safety import CheckReport

        base = ""
        if offline:
            base, items = app.check_offline(since, backend)
            report = CheckReport(items)
            what = f"migration(s) added since {base[:12]}"
        else:
            note_missing_database(app)
            report = app.checkmigrations(allow_drift)
            what = "pending migration(s)"
        shims = live_shims(app.env)
        ok = report.passes(strict)
        if as_json:
            out(
                json.dumps(
                    _check_json(report, shims, ok=ok, since=base if offline else None), indent=2
                )
            )
            return 0 if ok else 1
        _print_shims(shims)
        if not report.items:
            out(f"No {what.replace('(s)', 's')} — nothing to check.")
            return 0
        return _print_report(report, what, ok=ok, offline=offline)

    return body


def _check_json(report: Any, shims: list[Any], *, ok: bool, since: str | None) -> dict:
    """``checkmigrations --json``."""
    from umbral.safety import OpSafety

    data: dict[str, Any] = {
        "pending_migrations": report.migrations,
        "operations": [
            {
                "migration": c.migration,
                "kind": c.operation.kind,
                "tier": c.finding.tier.name,
                "tag": c.finding.tag,
                "message": c.finding.message,
                "acknowledged": c.operation.acknowledged,
            }
            for c in report.items
        ],
        "summary": {
            "safe": len(report.by_tier(OpSafety.SAFE)),
            "warning": len(report.by_tier(OpSafety.WARNING)),
            "unsafe": len(report.by_tier(OpSafety.UNSAFE)),
            "acknowledged": len(report.notes),
        },
        "ok": ok,
    }
    if since is not None:
        data["since"] = since
    if shims:
        data["shims"] = [{"plugin": s.plugin, **s.shim.to_dict(), "age": s.age} for s in shims]
    return data


def _print_shims(shims: list[Any]) -> None:
    if not shims:
        return
    out(f"LIVE SHIMS ({len(shims)}):")
    for s in shims:
        of = f" (column {s.shim.to} as {s.shim.from_})" if s.shim.from_ else ""
        out(
            f"  {s.shim.name}: view of {s.shim.table}{of}, created by "
            f"{s.plugin}/{s.shim.since}, {s.age} migration(s) since; drop it with "
            f"`umbral makemigrations --drop-compat {s.shim.name}`"
        )
    out("")


def _print_report(report: Any, what: str, *, ok: bool, offline: bool) -> int:
    from umbral.safety import OpSafety

    unsafe = report.by_tier(OpSafety.UNSAFE)
    warning = report.by_tier(OpSafety.WARNING)
    safe = report.by_tier(OpSafety.SAFE)
    notes = report.notes
    out(f"Checking {len(report.items)} operation(s) across {report.migrations} {what}...")
    out("")
    for title, group in (("UNSAFE", unsafe), ("WARNING", warning)):
        if group:
            out(f"{paint(title, title)} ({len(group)}):")
            for c in group:
                out(f"  [{c.finding.tag}] {c.migration}: {c.finding.message}")
            out("")
    if notes:
        out(f"ACKNOWLEDGED ({len(notes)}):")
        for c in notes:
            out(
                f"  [{c.finding.tag}] {c.migration}: {c.finding.message} "
                f"(acknowledged: {c.operation.acknowledged})"
            )
        out("")
    summary = f"Summary: {len(safe)} safe, {len(warning)} warning, {len(unsafe)} unsafe"
    out(summary + (f", {len(notes)} acknowledged." if notes else "."))
    if unsafe:
        err(
            f"error: checkmigrations: {len(unsafe)} unsafe operation(s) found. Review the "
            "expand-contract notes above before deploying."
        )
        return 1
    if not ok:
        err(
            f"error: checkmigrations: {len(warning)} warning(s) found (--strict). Review the "
            "expand-contract notes above before deploying."
        )
        return 1
    out("")
    out(f"All {'new' if offline else 'pending'} operations are safe for a rolling deploy.")
    return 0


@command
def squashmigrations_cmd(
    opts: dict,
    plugin: Annotated[str, typer.Argument(help="The plugin whose migrations to squash.")],
    start: Annotated[
        str | None, typer.Option("--from", metavar="ID", help="First migration (default: first).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", metavar="ID", help="Last migration (default: last).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> Body:
    """Write one migration that replaces a range of a plugin's migrations."""

    def body() -> int:
        m = load_app(opts).squashmigrations(plugin, start=start, end=end)
        if as_json:
            data = {
                "plugin": plugin,
                "migration": m.key,
                "path": str(rel(m.path)),
                "replaces": list(m.replaces),
                "operations": [{"kind": op.kind, "description": op.describe()}
                               for op in m.operations],
            }  # fmt: skip
            out(json.dumps(data, indent=2))
            return 0
        out(f"Squashed {len(m.replaces)} migrations for `{plugin}` into {m.id}")
        out(f"  wrote {rel(m.path)}")
        out(f"  replaces: {', '.join(m.replaces)}")
        out(
            "The originals are kept; delete them once every database you deploy to has "
            "applied the squash or the migrations it replaces."
        )
        return 0

    return body
