"""A database that runs out of space fails the running migration like any failing statement
(docs/guarantees.md): it is rolled back and named, the migrations before it stay.

SQLite's ``PRAGMA max_page_count`` caps the database file: past it, writes fail with the same
SQLITE_FULL ("database or disk is full") a full disk gives.
"""

from __future__ import annotations

import json

from conftest import Project, rows

FILL = (
    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 200000) "
    "INSERT INTO t (x) SELECT printf('%0100d', i) FROM c"
)


def _run_sql(p: Project, name: str, *statements: str) -> None:
    r = p.run("makemigrations", "--empty", "app", "--name", name)
    assert r.code == 0, r
    path = sorted((p.root / "migrations" / "app").glob(f"*_{name}.json"))[-1]
    data = json.loads(path.read_text())
    data["operations"] = [{"kind": "RunSql", "sql": s} for s in statements]
    path.write_text(json.dumps(data, indent=2) + "\n")


def test_a_full_sqlite_database_fails_the_running_migration(project: Project) -> None:
    p = project
    _run_sql(p, "t", "CREATE TABLE t (x TEXT)", "INSERT INTO t (x) VALUES ('kept')")
    _run_sql(p, "more", "CREATE TABLE more (y INTEGER)")
    _run_sql(p, "fill", "INSERT INTO more (y) VALUES (1)", "PRAGMA max_page_count = 64", FILL)
    r = p.run("migrate")
    assert r.code == 1, r
    assert "Traceback" not in r.stderr
    assert r.err_lines[0] == (
        "error: umbral migrate: migration app/0003_fill failed and was rolled back: "
        "database or disk is full"
    ), r
    assert r.err_lines[1] == f"  statement: {FILL}", r
    # The migrations before it are applied; nothing of the failing one is left.
    assert rows(p.database, "SELECT name FROM umbral_migrations ORDER BY name") == [
        ("0001_t",),
        ("0002_more",),
    ]
    assert rows(p.database, "SELECT x FROM t") == [("kept",)]
    assert rows(p.database, "SELECT y FROM more") == []
