"""Command definitions. Output conventions (SPEC §12): results on stdout; ``error: ...`` and
``warning: ...`` on stderr; exit 0 success, 1 refusal or error, 2 usage error."""

from __future__ import annotations

import gc
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from umbral.cli import interrupt
from umbral.cli.output import Progress, err, out, paint, run_command
from umbral.errors import UmbralError

BUILTIN_COMMANDS = (  # in the order `umbral --help` lists them
    "init", "makemigrations", "migrate", "showmigrations", "sqlmigrate", "inspectdb", "plugins",
    "checkmigrations", "squashmigrations", "checkschema", "graph",
)  # fmt: skip

ProjectOpt = Annotated[
    Path | None,
    typer.Option("--project", help="Project directory (default: found by walking up from the cwd).",
                 file_okay=False),
]  # fmt: skip
DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database", help="Database URL (overrides UMBRAL_DATABASE_URL and the config)."),
]
EnvOpt = Annotated[
    str | None,
    typer.Option(
        "--env",
        metavar="NAME",
        help="The environment migrated (overrides UMBRAL_ENV and the config's env): a "
        "migration whose skip_on names it is recorded as skipped, not run.",
    ),
]
TracebackOpt = Annotated[
    bool, typer.Option("--traceback", help="Show a Python traceback on errors.")
]


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


def _opts(ctx: typer.Context, project: Path | None, database: str | None, tb: bool) -> dict:
    """Merge global options given before the command with the same options given after it."""
    base = dict(ctx.obj or {})
    if project is not None:
        base["project"] = project
    if database is not None:
        base["database"] = database
    base["traceback"] = bool(base.get("traceback")) or tb
    return base


def _finite(value: float | None) -> float | None:
    """A number of seconds must be finite: ``inf`` and ``nan`` parse as floats, but no
    timeout or wait can be infinite or undefined (a usage error, exit 2)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number of seconds")
    return value


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
    return App.from_config(cfg, database=opts.get("database"))


# -- commands --------------------------------------------------------------------------------


def init_cmd(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Project directory.")] = Path("."),
    pyproject: Annotated[
        bool, typer.Option("--pyproject", help="Append [tool.umbral] to pyproject.toml.")
    ] = False,
    database_url: Annotated[
        str, typer.Option("--database-url", help="Database URL to write.")
    ] = "sqlite:///db.sqlite3",
    traceback: TracebackOpt = False,
) -> None:
    """Write a starter configuration and models module."""

    def body() -> None:
        from umbral.init import init_project

        for line in init_project(directory, pyproject=pyproject, database=database_url):
            out(line)

    run_command(_opts(ctx, None, None, traceback), body)


def makemigrations_cmd(
    ctx: typer.Context,
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
    project: ProjectOpt = None,
    database: DatabaseOpt = None,
    traceback: TracebackOpt = False,
) -> None:
    """Diff models against the latest snapshots and write migration files."""
    opts = _opts(ctx, project, database, traceback)
    if python and empty is None:
        raise typer.BadParameter("--python goes with --empty PLUGIN", param_hint="--python")
    from umbral.cli.backfill import ask, parse_backfills

    try:
        backfills = parse_backfills(backfill)
    except typer.BadParameter as exc:
        raise typer.BadParameter(str(exc), param_hint="'--backfill'") from None
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

            data = {
                "written": result.written,
                "migrations": [
                    {
                        "migration": m.key,
                        "path": str(_rel(m.path)),
                        "operations": [
                            {"kind": op.kind, "description": op.describe()} for op in m.operations
                        ],
                    }
                    for m in result.migrations
                ],
                "notes": [{"stream": n.stream, "text": n.text} for n in result.notes],
            }
            out(json.dumps(data, indent=2))
            return 1 if check and result.migrations else 0
        for note in result.notes:
            (out if note.stream == "stdout" else err)(note.text)
        if not result.migrations:
            out("no conflicts to merge" if merge else "no changes detected")
            return 0
        for m in result.migrations:
            path = _rel(m.path)
            if check or dry_run:
                out(f"Would write {path}")
                for op in m.operations:
                    out(f"  - {op.describe()}")
                if dry_run:
                    out(m.dumps().rstrip("\n"))
            else:
                what = " (empty)" if empty and not python else " (merge)" if merge else ""
                out(f"Wrote {path}{what}")
                for extra in m.extra_files or {}:
                    out(f"Wrote {_rel(extra)}")
        if python and not (check or dry_run):
            out("Write the data change in forward() (and its undo in backward()) of that module")
        elif empty and not (check or dry_run):
            out(
                'Add operations by hand, e.g. {"kind": "RunSql", "sql": "UPDATE ...", '
                '"reverse_sql": "..."}'
            )
        return 1 if check else 0

    run_command(opts, body)


def note_missing_database(app: Any) -> None:
    """Say on stderr that a read-only command read a not-yet-created database as empty (a
    mistyped path shows here, not as a silent "nothing applied")."""
    missing = app.missing_database()
    if missing is not None:
        err(
            f"note: database {missing} does not exist yet: read as empty, and not created "
            "(`umbral migrate` creates it)"
        )


def migrate_cmd(
    ctx: typer.Context,
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
    lock_wait: Annotated[
        float | None,
        typer.Option(
            "--lock-wait",
            callback=_finite,
            help="Seconds to wait for the migration lock (default 300).",
        ),
    ] = None,
    lock_timeout: Annotated[
        float | None,
        typer.Option(
            "--lock-timeout",
            min=0,
            callback=_finite,
            help="Seconds a DDL statement may wait for a table lock before it is retried "
            "(Postgres; default 2, 0 = no limit).",
        ),
    ] = None,
    statement_timeout: Annotated[
        float | None,
        typer.Option(
            "--statement-timeout",
            min=0,
            callback=_finite,
            help="Seconds any statement may run (Postgres; default: no limit).",
        ),
    ] = None,
    lock_retries: Annotated[
        int | None,
        typer.Option(
            "--lock-retries",
            min=0,
            help="Retries of a migration that hit the lock timeout (Postgres; default 5).",
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
    project: ProjectOpt = None,
    database: DatabaseOpt = None,
    traceback: TracebackOpt = False,
) -> None:
    """Apply pending migrations in dependency order, one transaction each."""
    opts = _opts(ctx, project, database, traceback)

    if prune and (target is not None or fake is not None or fake_initial):
        raise typer.BadParameter(
            "--prune only deletes tracking rows: it takes no target, --fake or --fake-initial",
            param_hint="--prune",
        )

    def body() -> int:
        app = load_app(opts)
        if plan:
            note_missing_database(app)
        import time

        # The bar is drawn only on a terminal, and never with --json or -v (their lines).
        progress = Progress(enabled=None if not (verbose or as_json) else False)
        started: dict[str, float] = {}
        timings: dict[str, float] = {}

        def on_event(kind: str, data: dict) -> None:
            if kind == "warning":
                progress.clear()
                err(f"warning: {data['message']}")
            elif kind == "faked":
                if not as_json:
                    out(f"Fake-applied initial migration for {data['count']} plugin(s)")
            else:
                key = data.get("migration", "")
                if kind == "start":
                    started[key] = time.perf_counter()
                elif kind in ("done", "skipped") and started:
                    # A fresh database's build reports one step, from the first migration
                    # it covers to the last.
                    first = key if key in started else next(reversed(started))
                    timings[key] = time.perf_counter() - started.pop(first)
                    label = key if first == key else f"{first} .. {key} (built from the snapshots)"
                    if verbose and kind == "done":
                        out(f"  {label} ... {timings[key]:.2f}s")
                progress.update(kind, data)

        result = app.migrate(
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
            lock_wait=lock_wait,
            lock_timeout=lock_timeout,
            statement_timeout=statement_timeout,
            lock_retries=lock_retries,
            environment=env,
            on_event=on_event,
        )
        progress.finish()
        if as_json:
            out(_migrate_json(result, plan=plan, timings=timings))
            return 0
        if fake is not None:
            out(result.message)
        elif prune:
            if not result.pruned:
                out("No orphan tracking rows to prune")
            for key in result.pruned:
                if plan:
                    out(f"Prune {key} (delete its tracking row; the schema is not touched)")
                else:
                    out(f"Pruned {key} (tracking row deleted; the schema is not touched)")
        elif plan:
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
                if r.skipped and r.backward:
                    out(f"Unrecord {r.migration.key} (no SQL: it was skipped on {r.skipped})")
                    continue
                if r.skipped:
                    out(f"Skip {r.migration.key} (skip_on: {', '.join(r.migration.skip_on)}; "
                        f"recorded as skipped on {r.skipped}, no SQL)")  # fmt: skip
                    continue
                if r.record_only:
                    why = "it replaces migrations applied before it"
                    out(f"Record {r.migration.key} (no SQL: {why})")
                    continue
                out(f"{'Unapply' if r.backward else 'Apply'} {r.migration.key}")
                for description, _ in r.parts:
                    out(f"    {description}")
        elif result.unapplied:
            out(f"Unapplied {len(result.unapplied)} migration(s)")
        elif result.applied or result.skipped:
            line = f"Applied {len(result.applied)} migration(s)"
            if result.skipped:
                line += f", skipped {len(result.skipped)} (skip_on): {', '.join(result.skipped)}"
            out(line)
        else:
            out("No pending migrations")
        return 0

    run_command(opts, body)


def _migrate_json(result: Any, *, plan: bool, timings: dict[str, float]) -> str:
    """``migrate --json``: what ran (or, with --plan, would run), one documented shape."""
    import json

    def action(r: Any) -> str:
        if r.skipped:
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


def showmigrations_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    project: ProjectOpt = None,
    database: DatabaseOpt = None,
    traceback: TracebackOpt = False,
) -> None:
    """List every migration and its state: [X] [ ] [!] [?] [~] [-]."""
    opts = _opts(ctx, project, database, traceback)

    def body() -> int:
        from umbral.drift import State

        app = load_app(opts)
        # Conflicting branches are reported, but showmigrations always exits 0 (SPEC §9):
        # load both branches instead of failing on their shared sequence number.
        app.env.accept_branches = True
        note_missing_database(app)
        entries = app.showmigrations()
        waiting_states = (State.PENDING, State.OUT_OF_ORDER)
        applied = {e.key for e in entries if e.state not in waiting_states}
        for message in app.env.conflicts(app.env.plugin_names, applied):
            err(f"error: {message}")
        waiting = sum(e.state in waiting_states for e in entries)
        if as_json:
            data = {
                "migrations": [
                    {
                        "plugin": e.plugin,
                        "name": e.name,
                        "state": e.state.label,
                        "marker": e.state.marker,
                        **({"environment": e.environment} if e.environment else {}),
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
            skipped = f"  (skipped on {e.environment})" if e.environment else ""
            out(f"{paint(e.state.marker, e.state.marker)} {e.key}{skipped}")
        if waiting:
            out("")
            out(f"{waiting} migration(s) not yet applied.")
        return 0

    run_command(opts, body)


def sqlmigrate_cmd(
    ctx: typer.Context,
    spec: Annotated[str, typer.Argument(metavar="PLUGIN/NAME", help="The migration to show.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    project: ProjectOpt = None,
    database: DatabaseOpt = None,
    traceback: TracebackOpt = False,
) -> None:
    """Print the SQL of one migration for the configured backend (nothing is run)."""
    opts = _opts(ctx, project, database, traceback)

    def body() -> int:
        rendered = load_app(opts).sqlmigrate(spec)
        if as_json:
            import json

            data = {
                "migration": rendered.migration.key,
                "operations": [
                    {"description": description, "statements": [str(s) for s in statements]}
                    for description, statements in rendered.parts
                ],
            }
            out(json.dumps(data, indent=2))
            return 0
        out(f"-- {rendered.migration.key}")
        for description, statements in rendered.parts:
            out(f"-- {description}")
            for stmt in statements:
                # A Python step (RunPython) shows as a comment: it is no SQL to run.
                out(f"{stmt};" if isinstance(stmt, str) else str(stmt))
        return 0

    run_command(opts, body)


def inspectdb_cmd(
    ctx: typer.Context,
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
    project: ProjectOpt = None,
    database: DatabaseOpt = None,
    traceback: TracebackOpt = False,
) -> None:
    """Write models and an initial migration from an existing database (read-only)."""
    opts = _opts(ctx, project, database, traceback)

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
            out(f"Wrote {_rel(path)}")
        if result.marked_applied:
            out(f"Marked {result.marked_applied} as applied (no SQL executed)")
        return 0

    run_command(opts, body)


def plugins_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    project: ProjectOpt = None,
    database: DatabaseOpt = None,
    traceback: TracebackOpt = False,
) -> None:
    """List plugins: distribution, models, migrations directory, hooks."""
    opts = _opts(ctx, project, database, traceback)

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
                out(f"  migrations: {_rel(Path(r['migrations_dir']))}{ro}")
            out(f"  hooks: {', '.join(r['hooks']) or '-'}")
        return 0

    run_command(opts, body)


def _rel(path: Path | None) -> str:
    if path is None:
        return "-"
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# -- assembly --------------------------------------------------------------------------------


class _Registrar:
    """What ``umbral_commands(cli)`` receives: ``cli.command("name")(function)``. With
    ``register=False`` it only notes the names (a run of a built-in command, see ``build_cli``):
    a plugin command that would shadow a built-in is still reported."""

    def __init__(self, cli: typer.Typer, register: bool = True) -> None:
        self.cli = cli
        self.register = register
        self.dropped: list[str] = []

    def command(self, name: str | None = None, **kwargs: Any) -> Any:
        def register(fn: Any) -> Any:
            cmd = name or fn.__name__.replace("_", "-")
            if cmd in BUILTIN_COMMANDS:
                self.dropped.append(cmd)
                return fn
            if not self.register:
                return fn
            return self.cli.command(cmd, rich_help_panel="Plugin commands", **kwargs)(fn)

        return register


def _builtin(name: str) -> Any:
    if name in ("checkmigrations", "squashmigrations"):
        from umbral.cli import deploy

        return getattr(deploy, f"{name}_cmd")
    if name == "checkschema":
        from umbral.cli import schema

        return schema.checkschema_cmd
    if name == "graph":
        from umbral.cli import graphcmd

        return graphcmd.graph_cmd
    return globals()[f"{name}_cmd"]


def build_cli(plugin_commands: bool = True, only: str | None = None) -> typer.Typer:
    """The ``umbral`` command group. ``only`` (a built-in command's name) registers just that
    command: on every run typer turns each registered command's signature into click options,
    which for all of them costs more than the command a run invokes (``invoked_command``).
    Plugin commands are still collected, for the warning about one that shadows a built-in."""
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
    if plugin_commands:
        _add_plugin_commands(cli, register=only is None)
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


def _add_plugin_commands(cli: typer.Typer, register: bool = True) -> None:
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
    registrar = _Registrar(cli, register)
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
