"""Generate the three projects for one (N, H) and capture umbral's SQL for the raw floor.

Runs inside the benchmark virtualenv (it imports umbral from the repository, Django and
Alembic are driven through their own command lines)::

    python bench/gen.py project OUT --n 500 --h 500 [--a 10] [--seed 7]
    python bench/gen.py sql PROJECT_DIR DATABASE_URL OUT.sql

``project`` writes ``OUT/{umbral,django,alembic}``: models at the final state and migrations for
the initial schema (each tool's own autogenerator) plus one migration per history step.
umbral's history migrations come from umbral's own autodetector, called in-process once per
step (the same diff ``umbral makemigrations`` runs), which avoids re-reading the growing history
500 times; Django's and Alembic's are written as those tools would write them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import projects
from schema import Schema, apply, at, history, initial


def exec_models(s: Schema, plugin: str) -> list[type]:
    """The plugin's umbral model classes, built from the same code the project file holds."""
    ns: dict = {"__name__": f"bench_models_{plugin}"}
    exec(projects.umbral_models_code(s, plugin), ns)
    return [v for k, v in ns.items() if k[:1] == "M" and k[1:].isdigit()]


def gen_umbral(out: Path, base: Schema, changes: list) -> None:
    from umbral.app import App
    from umbral.autodetector import diff
    from umbral.config import load_project
    from umbral.makemigrations import write_all
    from umbral.migration import Migration, suffix_for
    from umbral.models import build_snapshots

    projects.write_umbral(out, base)
    result = App.from_config(load_project(out)).makemigrations()
    latest = {m.plugin: m for m in result.migrations}
    s = base.clone()
    owned = {p: exec_models(s, p) for p in s.plugins}
    for ch in changes:
        apply(s, ch)
        plugin = s.models[ch.model].plugin
        owned[plugin] = exec_models(s, plugin)
        current = build_snapshots(owned)[plugin]
        prev = latest[plugin]
        d = diff(prev.snapshot_after, current)
        assert d.operations, f"history step {ch} produced no umbral operation"
        mid = f"{prev.sequence + 1:04d}_{suffix_for(d.operations)}"
        m = Migration(
            plugin=plugin,
            id=mid,
            operations=d.operations,
            snapshot_after=current,
            depends_on=[prev.key],
            path=out / "migrations" / plugin / f"{mid}.json",
        )
        write_all([m])
        latest[plugin] = m
    for p in s.plugins:
        projects.write_umbral_plugin(out, s, p)


def gen_django(out: Path, base: Schema, changes: list) -> None:
    projects.write_django(out, base)
    subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "-v", "0"],
        cwd=out,
        check=True,
        env={**os.environ, "BENCH_DB_URL": "sqlite:///db.sqlite3"},
    )
    (out / "db.sqlite3").unlink(missing_ok=True)  # makemigrations' consistency check made it
    latest = {p: max(f.stem for f in (out / p / "migrations").glob("0*.py")) for p in base.plugins}
    s = base.clone()
    for step, ch in enumerate(changes, 1):
        apply(s, ch)
        plugin = s.models[ch.model].plugin
        prev = latest[plugin]
        name = f"{int(prev[:4]) + 1:04d}_h{step}"
        code = projects.django_migration_code(prev, plugin, projects.django_operation(ch, s))
        (out / plugin / "migrations" / f"{name}.py").write_text(code)
        latest[plugin] = name
    for p in s.plugins:
        projects.write_django_app(out, s, p)


def gen_alembic(out: Path, base: Schema, changes: list) -> None:
    projects.write_alembic(out, base)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "BENCH_DB_URL": f"sqlite:///{tmp}/empty.sqlite3"}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "alembic",
                "revision",
                "--autogenerate",
                "--rev-id",
                "h0000",
                "-m",
                "initial",
            ],
            cwd=out,
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    s = base.clone()
    down = "h0000"
    for step, ch in enumerate(changes, 1):
        before = s.clone() if ch.kind == "rename" else s  # only a rename needs the old name
        apply(s, ch)
        rev = f"h{step:04d}"
        code = projects.alembic_revision_code(rev, down, projects.alembic_operation(ch, before, s))
        (out / "alembic" / "versions" / f"{rev}.py").write_text(code)
        down = rev
    (out / "models.py").write_text(projects.sa_models_code(s))


def cmd_project(args: argparse.Namespace) -> None:
    out = Path(args.out)
    base = initial(args.n, args.a, args.seed)
    changes = history(base, args.h, args.seed)
    tools = args.tools.split(",")
    if args.models_only:
        final = at(base, changes)
        projects.write_umbral(out / "umbral", final)
        projects.write_django(out / "django", final)
        projects.write_alembic(out / "alembic", final)
        (out / "manifest.json").write_text(json.dumps({"n": args.n, "models_only": True}))
        return
    if "umbral" in tools:
        gen_umbral(out / "umbral", base, changes)
    if "django" in tools:
        gen_django(out / "django", base, changes)
    if "alembic" in tools:
        gen_alembic(out / "alembic", base, changes)
    final = at(base, changes)
    (out / "manifest.json").write_text(
        json.dumps(
            {
                "n": args.n,
                "a": args.a,
                "h": args.h,
                "seed": args.seed,
                "tools": tools,
                "tables": len(final.models),
            }
        )
    )


def cmd_sql(args: argparse.Namespace) -> None:
    """Every statement ``umbral migrate`` would run from the database's current state."""
    from umbral.app import App
    from umbral.config import load_project
    from umbral.steps import plain_sql

    app = App.from_config(load_project(Path(args.project)), database=args.database)
    create = app.env.backend_for(app.database_url).tracking_table_sql("umbral_migrations")
    if args.head:
        # The head floor: the fast path's own SQL (the schema of the plan's end, the tracking
        # table and every tracking row), to run in one transaction.
        from umbral import recorder

        fast = app.migrate(plan=True, allow_destructive=True).fast
        assert fast is not None, "the history holds a migration the fast path replays"
        lines = [_terminated(create)] + [_terminated(s) for s in plain_sql(fast.statements)]
        now = recorder.now_iso()
        lines += [_terminated(recorder.record_sql(m.plugin, m.id, m.checksum, now))
                  for m in fast.covered]  # fmt: skip
        Path(args.out).write_text("".join(lines))
        print(len(fast.covered), len(fast.statements))
        return
    # The replay floor: every migration's statements, as `migrate --replay` runs them.
    plan = app.migrate(plan=True, allow_destructive=True, replay=True).plan
    # A run-time step runs as its statements as rendered (umbral.steps).
    stmts = [s for r in plan for s in plain_sql(r.statements)]
    Path(args.out).write_text("".join(_terminated(s) for s in stmts))
    if args.per_migration:
        # The same statements with what SPEC §8 adds in the database itself: the tracking
        # table, and each migration in its own transaction with its tracking row, committed
        # as umbral's PostgreSQL session commits (synchronous_commit off until the end).
        from umbral import recorder

        pg = app.database_url.startswith("postgres")
        lines = ["SET synchronous_commit = off;\n"] if pg else []
        lines.append(_terminated(create))
        for r in plan:
            m = r.migration
            lines += ["BEGIN;\n", _terminated(recorder.record_sql(m.plugin, m.id, m.checksum))]
            lines += [_terminated(s) for s in plain_sql(r.statements)]
            lines.append("COMMIT;\n")
        Path(args.per_migration).write_text("".join(lines))
    print(len(plan), len(stmts))


def _terminated(statement: str | None) -> str:
    assert statement is not None
    return statement.rstrip().rstrip(";") + ";\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("project")
    p.add_argument("out")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--h", type=int, default=0)
    p.add_argument("--a", type=int, default=10)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--tools", default="umbral,django,alembic")
    p.add_argument("--models-only", action="store_true", help="write models, no migrations")
    q = sub.add_parser("sql")
    q.add_argument("project")
    q.add_argument("database")
    q.add_argument("out")
    q.add_argument("--per-migration", help="also write the statements a transaction each")
    q.add_argument("--head", action="store_true", help="the fast path's statements instead")
    args = ap.parse_args()
    {"project": cmd_project, "sql": cmd_sql}[args.cmd](args)


if __name__ == "__main__":
    main()
