"""``migrate``: apply or un-apply migrations, and print what ran (or, with --plan, would run)."""

from __future__ import annotations

import math
import time
from typing import Annotated, Any

import typer

from umbral.cli.common import (
    AliasOpt,
    Body,
    command,
    load_app,
    note_missing_database,
    per_alias,
)
from umbral.cli.output import Progress, err, out
from umbral.cli.tenantscmd import (
    JobsOpt,
    TenantOpt,
    TenantsOpt,
    migrate_tenants,
    refuse_with_tenants,
)

EnvOpt = Annotated[
    str | None,
    typer.Option(
        "--env",
        metavar="NAME",
        help="The environment migrated (overrides UMBRAL_ENV and the config's env): a "
        "migration whose skip_on names it is recorded as skipped, not run.",
    ),
]


def finite(value: float | None) -> float | None:
    """A number of seconds must be finite: ``inf`` and ``nan`` parse as floats, but no
    timeout or wait can be infinite or undefined (a usage error, exit 2)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number of seconds")
    return value


@command
def migrate_cmd(
    opts: dict,
    target: Annotated[
        str | None, typer.Argument(help="Migrate up to plugin/name.", show_default=False)
    ] = None,
    fake: Annotated[
        str | None,
        typer.Option(
            "--fake", metavar="PLUGIN/NAME", help="Record a migration without running it."
        ),
    ] = None,
    fake_initial: Annotated[
        bool, typer.Option("--fake-initial", help="Adopt existing tables of initial migrations.")
    ] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Delete the tracking rows of migrations no longer on disk ([!]), then exit.",
        ),
    ] = False,
    record_only: Annotated[
        bool,
        typer.Option(
            "--record-only",
            help="Write (backward: delete) the tracking rows up to the target, running no "
            "SQL: the schema was changed by hand.",
        ),
    ] = False,
    allow_drift: Annotated[
        bool, typer.Option("--allow-drift", help="Proceed despite missing or edited files.")
    ] = False,
    allow_destructive: Annotated[
        bool, typer.Option("--allow-destructive", help="Allow operations that destroy data.")
    ] = False,
    allow_in_memory: Annotated[
        bool, typer.Option("--allow-in-memory", help="Allow an in-memory database.")
    ] = False,
    allow_irreversible: Annotated[
        bool,
        typer.Option("--allow-irreversible", help="Un-apply migrations whose data cannot return."),
    ] = False,
    plan: Annotated[bool, typer.Option("--plan", help="Print what would run, then exit.")] = False,
    replay: Annotated[
        bool,
        typer.Option(
            "--replay",
            help="On an empty database, run every migration instead of building the schema "
            "from the snapshots.",
        ),
    ] = False,
    from_statement: Annotated[
        int | None,
        typer.Option(
            "--from-statement",
            min=1,
            metavar="N",
            help="Continue the partly applied migration at its statement N (1 runs it whole), "
            "instead of where it stopped; needed when its file was edited since.",
        ),
    ] = None,
    lock_wait: Annotated[
        float | None,
        typer.Option(
            "--lock-wait",
            min=0,
            callback=finite,
            help="Seconds to wait for the migration lock (default 300).",
        ),
    ] = None,
    lock_timeout: Annotated[
        float | None,
        typer.Option(
            "--lock-timeout",
            min=0,
            callback=finite,
            help="Seconds a DDL statement may wait for a table lock before it is retried "
            "(PostgreSQL, MySQL; default 2, 0 = no limit).",
        ),
    ] = None,
    statement_timeout: Annotated[
        float | None,
        typer.Option(
            "--statement-timeout",
            min=0,
            callback=finite,
            help="Seconds any statement may run (PostgreSQL, MySQL; default: no limit).",
        ),
    ] = None,
    lock_retries: Annotated[
        int | None,
        typer.Option(
            "--lock-retries",
            min=0,
            help="Retries of a migration that hit the lock timeout (PostgreSQL, MySQL; default 5).",
        ),
    ] = None,
    env: EnvOpt = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "-v", "--verbose", help="Print each migration as it is applied, with its time."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    tenants: TenantsOpt = False,
    tenant: TenantOpt = None,
    jobs: JobsOpt = None,
    create: Annotated[
        bool, typer.Option("--create", help="Create the tenant schemas that do not exist.")
    ] = False,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Start no more tenants after one has failed.")
    ] = False,
    alias: AliasOpt = None,
) -> Body:
    """Apply pending migrations in dependency order, one transaction each."""
    fleet = tenants or tenant is not None
    if fleet:
        refuse_with_tenants({
            "a target": target, "--fake-initial": fake_initial, "--plan": plan, "--alias": alias,
            "--record-only": record_only,
        })  # fmt: skip
        if tenants:
            # One tenant's way out of a partly applied, edited or missing migration, not a
            # fleet's.
            refuse_with_tenants(
                {"--fake": fake, "--from-statement": from_statement, "--prune": prune},
                one="tenant",
            )
    else:
        for flag, value in (("--jobs", jobs), ("--create", create), ("--fail-fast", fail_fast)):
            if value:
                raise typer.BadParameter(
                    "it applies to tenant schemas: add --tenants or --tenant NAME",
                    param_hint=flag,
                )
    if from_statement is not None and (fake is not None or prune):
        raise typer.BadParameter(
            "--from-statement says where a migration continues; --fake and --prune run none",
            param_hint="--from-statement",
        )
    if record_only and (
        fake is not None or fake_initial or prune or from_statement is not None or replay
    ):
        raise typer.BadParameter(
            "--record-only records the plan to a target; it takes no --fake, --fake-initial, "
            "--prune, --from-statement or --replay",
            param_hint="--record-only",
        )
    if prune and (target is not None or fake is not None or fake_initial):
        raise typer.BadParameter(
            "--prune only deletes tracking rows: it takes no target, --fake or --fake-initial",
            param_hint="--prune",
        )

    def body() -> int:
        app = load_app(opts)
        if fleet:
            return migrate_tenants(
                app, only=tenant, jobs=jobs, create=create, fail_fast=fail_fast,
                verbose=verbose, as_json=as_json,
                options={
                    "allow_drift": allow_drift, "allow_destructive": allow_destructive,
                    "allow_in_memory": allow_in_memory, "allow_irreversible": allow_irreversible,
                    "replay": replay, "lock_wait": lock_wait, "lock_timeout": lock_timeout,
                    "statement_timeout": statement_timeout, "lock_retries": lock_retries,
                    "environment": env,
                },
                fake=fake, from_statement=from_statement, prune=prune,
            )  # fmt: skip
        if alias is None and len(app.aliases()) > 1:
            if fake is not None:
                # A migration is recorded where its plugin lives, and nowhere else.
                return per_alias(app, app.alias_of(fake.partition("/")[0]), as_json, one)
            if from_statement is not None:
                return per_alias(app, _stopped_alias(app), as_json, one)
        return per_alias(app, alias, as_json, one)

    def one(app: Any) -> int:
        if plan or prune:
            note_missing_database(app)
        events = _Events(verbose=verbose, as_json=as_json)
        try:
            result = run(app, events)
        except Exception as exc:
            if as_json:  # what ran before the failure, then the error as usual
                out(events.failure_json(exc, plan=plan))
            raise
        events.progress.finish()
        if as_json:
            out(_migrate_json(result, plan=plan, timings=events.timings))
        elif fake is not None:
            out(result.message)
        elif prune:
            _print_prune(result, plan=plan)
        elif plan:
            _print_plan(result)
        else:
            _print_summary(result)
        return 0

    def run(app: Any, events: _Events) -> Any:
        return app.migrate(
            target,
            fake=fake,
            fake_initial=fake_initial,
            prune=prune,
            allow_drift=allow_drift,
            allow_destructive=allow_destructive,
            allow_in_memory=allow_in_memory,
            allow_irreversible=allow_irreversible,
            plan=plan,
            replay=replay,
            from_statement=from_statement,
            record_only=record_only,
            lock_wait=lock_wait,
            lock_timeout=lock_timeout,
            statement_timeout=statement_timeout,
            lock_retries=lock_retries,
            environment=env,
            on_event=events,
        )

    return body


def _stopped_alias(app: Any) -> str | None:
    """The one database ``--from-statement`` continues in: the one holding a partly applied
    migration (None when none does: each database then refuses the flag as its own)."""
    from umbral.errors import UmbralError

    found = app.partly_applied_aliases()
    if len(found) > 1:
        raise UmbralError(
            f"umbral migrate --from-statement: migrations are partly applied in the databases "
            f"{', '.join(found)}; name the one to continue with --alias NAME"
        )
    return found[0] if found else None


class _Events:
    """What ``migrate`` reports while it runs: warnings, the progress bar, and each
    migration's time (printed with -v, kept for --json)."""

    def __init__(self, *, verbose: bool, as_json: bool) -> None:
        self.verbose, self.as_json = verbose, as_json
        # The bar is drawn only on a terminal, and never with --json or -v (their lines).
        self.progress = Progress(enabled=None if not (verbose or as_json) else False)
        self.started: dict[str, float] = {}
        self.timings: dict[str, float] = {}
        # What a run that fails reports on --json: the migrations it committed, and warnings.
        self.finished: list[tuple[str, bool]] = []  # (key, backward)
        self.warnings: list[str] = []

    def __call__(self, kind: str, data: dict) -> None:
        if kind == "warning":
            self.progress.clear()
            self.warnings.append(data["message"])
            err(f"warning: {data['message']}")
        elif kind == "faked":
            if not self.as_json:
                out(f"Fake-applied initial migration for {data['count']} plugin(s)")
        else:
            self._time(kind, data.get("migration", ""), data.get("seconds"))
            self.progress.update(kind, data)
            if kind == "done":
                backward = bool(data.get("backward"))
                self.finished += [(key, backward) for key in data.get("covered", ())]
                if not data.get("covered"):
                    self.finished.append((data["migration"], backward))

    def failure_json(self, exc: Exception, *, plan: bool) -> str:
        """``migrate --json`` of a run that failed: its documented shape, with what the run
        committed before the failure in ``applied`` / ``unapplied``, and ``error``."""
        import json

        from umbral.errors import UmbralError

        def timed(keys: list[str]) -> list[dict[str, Any]]:
            return [{"migration": k, "seconds": round(self.timings.get(k, 0.0), 6)} for k in keys]

        error = str(exc) if isinstance(exc, UmbralError) else f"{type(exc).__name__}: {exc}"
        data = {
            "plan": plan, "path": "", "steps": [],
            "applied": timed([k for k, backward in self.finished if not backward]),
            "unapplied": timed([k for k, backward in self.finished if backward]),
            "skipped": [], "faked": [], "pruned": [], "warnings": self.warnings,
            "error": error,
        }  # fmt: skip
        return json.dumps(data, indent=2)

    def _time(self, kind: str, key: str, seconds: float | None) -> None:
        if kind == "start":
            self.started[key] = time.perf_counter()
        elif kind in ("done", "skipped") and self.started:
            # A fresh database's build reports one step, from the first migration it covers
            # to the last. A migration of a batch is reported once the batch commits, with
            # its own time.
            first = key if key in self.started else next(reversed(self.started))
            since = time.perf_counter() - self.started.pop(first)
            self.timings[key] = since if seconds is None else seconds
            label = key if first == key else f"{first} .. {key} (built from the snapshots)"
            if self.verbose and kind == "done":
                out(f"  {label} ... {self.timings[key]:.2f}s", flush=True)


def _print_prune(result: Any, *, plan: bool) -> None:
    if not result.pruned:
        out("No orphan tracking rows to prune")
    for key in result.pruned:
        if plan:
            out(f"Prune {key} (delete its tracking row; the schema is not touched)")
        else:
            out(f"Pruned {key} (tracking row deleted; the schema is not touched)")


def _print_plan(result: Any) -> None:
    if not result.plan and not result.faked and result.fast is None:
        out("No pending migrations")
    if result.path:
        out(f"Path: {result.path}")
    if result.fast is not None:
        for build in result.fast.build:
            out(f"Build {build.migration.plugin} at {build.migration.key}")
            for description, _ in build.parts:
                out(f"    {description}")
        for x in result.fast.covered:
            out(f"Record {x.key} (no SQL: built from the snapshots)")
    # What each step will do: a recorded-only migration runs no SQL.
    for key in result.faked:
        out(f"Record {key} (no SQL: its tables already exist)")
    for r in result.plan:
        _print_step(r)


def _print_step(r: Any) -> None:
    if r.unrecord is not None:
        out(f"Unrecord {r.migration.key} (no SQL: {r.unrecord})")
    elif r.skipped and r.backward:
        out(f"Unrecord {r.migration.key} (no SQL: it was skipped on {r.skipped})")
    elif r.skipped:
        out(f"Skip {r.migration.key} (skip_on: {', '.join(r.migration.skip_on)}; "
            f"recorded as skipped on {r.skipped}, no SQL)")  # fmt: skip
    elif r.record_only:
        out(f"Record {r.migration.key} (no SQL: {r.why})")
    else:
        resumes = ""
        if r.progress is not None:
            resumes = f" (continues at statement {r.progress.done + 1} of {len(r.statements)})"
        out(f"{'Unapply' if r.backward else 'Apply'} {r.migration.key}{resumes}")
        for description, _ in r.parts:
            out(f"    {description}")


def _print_summary(result: Any) -> None:
    # A squash whose replaced migrations had all run is recorded, not applied: no SQL ran;
    # so is each migration of a --record-only run, and its backward run only unrecords.
    done = set(result.applied)
    recorded = [r for r in result.plan if r.record_only and r.migration.key in done]
    ran = len(result.applied) - len(recorded)
    unrecorded = {r.migration.key: r.unrecord for r in result.plan if r.unrecord is not None}
    if result.unapplied and all(k in unrecorded for k in result.unapplied):
        for key in result.unapplied:
            out(f"Unrecorded {key} (no SQL: {unrecorded[key]})")
    elif result.unapplied:
        out(f"Unapplied {len(result.unapplied)} migration(s)")
    elif ran or result.skipped:
        line = f"Applied {ran} migration(s)"
        if result.skipped:
            line += f", skipped {len(result.skipped)} (skip_on): {', '.join(result.skipped)}"
        out(line)
    elif not recorded:
        out("No pending migrations")
    for r in recorded:
        out(f"Recorded {r.migration.key} (no SQL: {r.why})")


def _migrate_json(result: Any, *, plan: bool, timings: dict[str, float]) -> str:
    """``migrate --json``: what ran (or, with --plan, would run), one documented shape."""
    import json

    def action(r: Any) -> str:
        if r.skipped or r.unrecord is not None:
            return "unrecord" if r.backward else "skip"
        if r.record_only:
            return "record"
        return "unapply" if r.backward else "apply"

    fast = result.fast
    built = [
        {"migration": b.migration.key, "action": "build",
         "operations": [description for description, _ in b.parts]}
        for b in (fast.build if fast is not None else [])
    ] + [
        {"migration": m.key, "action": "record", "operations": []}
        for m in (fast.covered if fast is not None else [])
    ]  # fmt: skip
    data = {
        "plan": plan,
        "path": result.path,
        "steps": built
        + [
            {
                "migration": r.migration.key,
                "action": action(r),
                "operations": [description for description, _ in r.parts],
                **({"continues_at": r.progress.done + 1} if r.progress is not None else {}),
            }
            for r in result.plan
        ],
        "applied": [
            {"migration": key, "seconds": round(timings.get(key, 0.0), 6)} for key in result.applied
        ],
        "unapplied": [
            {"migration": key, "seconds": round(timings.get(key, 0.0), 6)}
            for key in result.unapplied
        ],
        "skipped": list(result.skipped),
        "faked": list(result.faked),
        "pruned": list(result.pruned),
        "warnings": list(result.warnings),
    }
    if result.message:
        data["message"] = result.message
    return json.dumps(data, indent=2)
