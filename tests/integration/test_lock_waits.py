"""Waiting for locks held by others (SPEC §8): each wait is one attempt, and giving up says why.

On PostgreSQL a migration whose statement hits ``--lock-timeout`` is retried with backoff; each
attempt waits for the lock once (the one-round-trip script is not followed by a statement-by-
statement run that would queue the table's readers behind a second wait). On SQLite another
writer's lock is waited for ``--lock-wait`` seconds, and the error says so.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from conftest import Project, _libpq, rows
from umbral.migration import canonical_json


def _write(root: Path, mid: str, operations: list[dict[str, Any]], after: str | None) -> None:
    folder = root / "migrations" / "app"
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "umbral": 1,
        "id": mid,
        "plugin": "app",
        "depends_on": [f"app/{after}"] if after else [],
        "operations": operations,
        "snapshot_after": {"models": []},
    }
    (folder / f"{mid}.json").write_text(canonical_json(data))


def _sql(sql: str) -> dict[str, Any]:
    return {"kind": "RunSql", "sql": sql}


@pytest.mark.postgres
def test_each_attempt_waits_for_the_lock_once(tmp_path: Path, postgres_url: str) -> None:
    import psycopg

    root = tmp_path / "proj"
    root.mkdir()
    p = Project(root, postgres_url)
    p.write_config()
    p.models("")
    _write(root, "0001_t", [_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")], None)
    # A sequence counts the attempts: nextval survives the rollback of each one.
    _write(root, "0002_attempts", [_sql("CREATE SEQUENCE attempts")], "0001_t")
    _write(
        root,
        "0003_change",
        [_sql("SELECT nextval('attempts')"), _sql("ALTER TABLE t ADD COLUMN x INTEGER")],
        "0002_attempts",
    )
    assert p.run("migrate", "app/0002_attempts").code == 0
    with psycopg.connect(_libpq(postgres_url)) as blocker:
        blocker.execute("SELECT * FROM t")  # an open read transaction holds ACCESS SHARE on t
        r = p.run("migrate", "--lock-timeout", "0.1", "--lock-retries", "2")
        blocker.rollback()
    assert r.code == 1, r
    assert r.err_lines[-2].startswith(
        "error: umbral migrate: migration app/0003_change failed and was rolled back: "
        "canceling statement due to lock timeout (gave up after 3 attempt(s)"
    ), r
    # The last attempt ran statement by statement: the error names the one that waited.
    assert r.err_lines[-1] == "  statement: ALTER TABLE t ADD COLUMN x INTEGER", r
    assert r.stderr.count("retrying in") == 2, r
    # Three attempts, each waiting for the lock once.
    assert rows(postgres_url, "SELECT last_value FROM attempts") == [(3,)]
    assert rows(postgres_url, "SELECT name FROM umbral_migrations ORDER BY name") == [
        ("0001_t",),
        ("0002_attempts",),
    ]


def test_sqlite_names_the_other_writer_and_lock_wait(project: Project) -> None:
    p = project
    _write(p.root, "0001_t", [_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")], None)
    other = sqlite3.connect(p.database.split(":///", 1)[1], isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process's write transaction
        r = p.run("migrate", "--lock-wait", "0.2")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert r.code == 1, r
    assert "Traceback" not in r.stderr
    assert len(r.err_lines) == 1, r
    line = r.err_lines[0]
    assert line.startswith("error: umbral migrate: another process holds the write lock on "), r
    assert "waited 0.2s" in line and "--lock-wait" in line, r
    # The lock is free again: the next run proceeds.
    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(p.database, "SELECT name FROM umbral_migrations") == [("0001_t",)]


def test_a_lock_wait_of_zero_in_the_config_waits_not_at_all(project: Project) -> None:
    p = project
    p.write_config(lock_wait=0)
    _write(p.root, "0001_t", [_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")], None)
    other = sqlite3.connect(p.database.split(":///", 1)[1], isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        r = p.run("migrate")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert r.code == 1, r
    assert "waited 0s" in r.err_lines[0], r  # not the 300 s default
