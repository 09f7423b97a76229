"""Several `umbral migrate` processes at once apply each migration exactly once (SPEC §8).

SQLite serialises writers with BEGIN IMMEDIATE and re-checks the applied set inside each
migration's transaction; Postgres uses a session-level advisory lock.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import SHOP, Project, rows, schema_of
from umbral import App, Model, fields

MIGRATIONS = 20


def _history(root: Path) -> list[str]:
    """Write a project history of MIGRATIONS files with real makemigrations runs.

    Step i creates table t<i> with a foreign key to t<i-1> and adds a column to t01, so the
    files hold CreateTable, AddColumn and cross-table references.
    """
    for step in range(1, MIGRATIONS + 1):
        classes: dict[str, type] = {}
        for i in range(1, step + 1):
            attrs: dict[str, object] = {"label": fields.Text(default="")}
            if i > 1:
                attrs["prev"] = fields.ForeignKey(f"T{i - 1:02d}", nullable=True)
            if i == 1:
                for j in range(2, step + 1):
                    attrs[f"c{j:02d}"] = fields.Integer(nullable=True)
            classes[f"T{i:02d}"] = type(f"T{i:02d}", (Model,), attrs)
        app = App(models=list(classes.values()), plugins=[], root=root)
        result = app.makemigrations()
        assert len(result.migrations) == 1
    files = sorted(p.stem for p in (root / "migrations" / "app").glob("*.json"))
    assert len(files) == MIGRATIONS
    return files


def _migrate_together(p: Project, processes: int) -> list[tuple[int, str, str]]:
    """Start every `umbral migrate` before waiting for any of them."""
    procs = [p.start("migrate") for _ in range(processes)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        results.append((proc.returncode, out, err))
    return results


def _check(p: Project, files: list[str], results: list[tuple[int, str, str]]) -> None:
    for code, out, err in results:
        assert code == 0, f"exit {code}\n--- stdout\n{out}--- stderr\n{err}"
    # Every process reports what it applied itself; together that is each migration once.
    applied = 0
    for _, out, _ in results:
        m = re.fullmatch(r"Applied (\d+) migration\(s\)\n|No pending migrations\n", out)
        assert m, out
        applied += int(m.group(1) or 0)
    assert applied == MIGRATIONS
    recorded = rows(p.database, "SELECT name, COUNT(*) FROM umbral_migrations GROUP BY name")
    assert sorted(recorded) == [(f, 1) for f in files]
    tables = schema_of(p.database)
    assert {f"t{i:02d}" for i in range(1, MIGRATIONS + 1)} <= set(tables)
    assert len(tables["t01"]["columns"]) == 2 + MIGRATIONS - 1  # id, label, c02..c20


def test_six_processes_on_one_sqlite_database(project: Project) -> None:
    files = _history(project.root)
    _check(project, files, _migrate_together(project, 6))


@pytest.mark.postgres
def test_eight_processes_on_one_postgres_database(tmp_path: Path, postgres_url: str) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    p = Project(root, postgres_url)
    p.write_config()
    p.models("")
    files = _history(root)
    _check(p, files, _migrate_together(p, 8))


@pytest.mark.mysql
def test_eight_processes_on_one_mysql_database(tmp_path: Path, mysql_url: str) -> None:
    """MySQL commits around every DDL statement: the migration lock alone keeps each
    migration to one process."""
    root = tmp_path / "proj"
    root.mkdir()
    p = Project(root, mysql_url)
    p.write_config()
    p.models("")
    files = _history(root)
    _check(p, files, _migrate_together(p, 8))


INTERLEAVE = """

import subprocess, sys
from pathlib import Path


@hookimpl
def umbral_render_operation(operation, backend, context):
    # The first rendering in a run that finds the marker runs a whole `umbral migrate` to its
    # end first: that run writes between this one's look at the empty database and its build.
    marker = Path("interleave")
    if marker.exists():
        marker.unlink()
        with open("inner.out", "w") as out:
            subprocess.run([sys.executable, "-m", "umbral", "migrate"], stdout=out, check=True)
    return None
"""


def test_a_run_that_found_the_database_empty_yields_to_one_that_built_it(
    project: Project,
) -> None:
    """SQLite serialises transactions, not runs: a run that chose the fast path on an empty
    database, then found the schema built by another run when its own transaction began,
    replays instead (skipping each migration the other run applied) and drops nothing."""
    project.write("shop.py", SHOP + INTERLEAVE)
    project.write_config(plugin_modules={"shop": "shop"}, plugins=["shop"])
    project.models("class Note(Model):\n    body = fields.Text()\n")
    assert project.run("makemigrations").code == 0
    (project.root / "interleave").write_text("")
    r = project.run("migrate")
    assert (r.code, r.out_lines) == (0, ["No pending migrations"]), r
    assert (project.root / "inner.out").read_text() == "Applied 2 migration(s)\n"
    assert set(schema_of(project.database)) >= {"note", "shop_item", "umbral_migrations"}
    assert len(rows(project.database, "SELECT name FROM umbral_migrations")) == 2
