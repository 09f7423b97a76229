"""A deferred constraint that a migration leaves violated fails that migration (SPEC §8).

A `DEFERRABLE INITIALLY DEFERRED` foreign key is checked only at COMMIT (Django creates every
SQLite foreign key so). umbral checks deferred constraints at the end of each migration, inside
its transaction or savepoint: the failure is that migration's, named, it is rolled back, and the
migrations before it stay applied (on SQLite they share a transaction with it).
"""

from __future__ import annotations

import json

import pytest

from conftest import Project, is_mysql, rows

PARENT_CHILD = (
    "CREATE TABLE parent (id INTEGER PRIMARY KEY);\n"
    "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER "
    "REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
)


def _history(p: Project, *sql: str) -> list[str]:
    """One hand-written RunSql migration per statement, as a user writes them."""
    ids = []
    for i, statement in enumerate(sql, start=1):
        r = p.run("makemigrations", "--empty", "app", "--name", f"step{i}")
        assert r.code == 0, r
        path = p.root / "migrations" / "app" / f"{i:04d}_step{i}.json"
        data = json.loads(path.read_text())
        data["operations"] = [{"kind": "RunSql", "sql": statement}]
        path.write_text(json.dumps(data, indent=2) + "\n")
        ids.append(data["id"])
    return ids


def _applied(p: Project) -> list[str]:
    return sorted(r[0] for r in rows(p.database, "SELECT name FROM umbral_migrations"))


def test_a_violated_deferred_foreign_key_fails_its_own_migration(any_project: Project) -> None:
    p = any_project
    if is_mysql(p.database):
        pytest.skip("MySQL and MariaDB have no deferrable constraints")
    ids = _history(
        p,
        PARENT_CHILD,
        "INSERT INTO parent (id) VALUES (1)",
        "INSERT INTO child (id, parent_id) VALUES (1, 1);\n"
        "INSERT INTO child (id, parent_id) VALUES (2, 99)",
        "INSERT INTO parent (id) VALUES (2)",
    )
    r = p.run("migrate")
    assert r.code == 1, r
    assert "Traceback" not in r.stderr
    assert r.err_lines[0].startswith(
        "error: umbral migrate: migration app/0003_step3 failed and was rolled back: "
    ), r
    assert "foreign key" in r.err_lines[0].lower(), r
    assert any(line.startswith("  statement: ") for line in r.err_lines[1:]), r
    # The migrations before it stay (on SQLite they ran in the same transaction), nothing of
    # the failing one is left, and the run stopped there.
    assert _applied(p) == ids[:2]
    assert rows(p.database, "SELECT id FROM parent") == [(1,)]
    assert rows(p.database, "SELECT id FROM child") == []

    # Fixing the file and re-running applies the rest.
    path = p.root / "migrations" / "app" / "0003_step3.json"
    data = json.loads(path.read_text())
    data["operations"] = [
        {"kind": "RunSql", "sql": "INSERT INTO child (id, parent_id) VALUES (1, 1)"}
    ]
    path.write_text(json.dumps(data, indent=2) + "\n")
    r = p.run("migrate")
    assert r.code == 0, r
    assert _applied(p) == ids
    assert rows(p.database, "SELECT id, parent_id FROM child") == [(1, 1)]


def test_a_violation_resolved_within_the_migration_is_fine(any_project: Project) -> None:
    p = any_project
    if is_mysql(p.database):
        pytest.skip("MySQL and MariaDB have no deferrable constraints")
    ids = _history(
        p,
        PARENT_CHILD,
        # The child row comes first; the parent it names is inserted later in the migration.
        "INSERT INTO child (id, parent_id) VALUES (1, 7);\nINSERT INTO parent (id) VALUES (7)",
    )
    r = p.run("migrate")
    assert r.code == 0, r
    assert _applied(p) == ids


def test_violations_that_were_there_before_do_not_fail_a_migration(project: Project) -> None:
    # Rows written while foreign keys were not enforced (SQLite's default for other tools)
    # violate the constraint already; a migration that does not add to them applies.
    p = project
    ids = _history(p, PARENT_CHILD)
    assert p.run("migrate").code == 0
    import sqlite3

    conn = sqlite3.connect(p.database.split(":///", 1)[1])
    conn.execute("INSERT INTO child (id, parent_id) VALUES (1, 42)")  # foreign_keys is off here
    conn.commit()
    conn.close()
    ids += _history_more(p, "INSERT INTO parent (id) VALUES (1)")
    r = p.run("migrate")
    assert r.code == 0, r
    assert _applied(p) == ids


def _history_more(p: Project, statement: str) -> list[str]:
    r = p.run("makemigrations", "--empty", "app", "--name", "more")
    assert r.code == 0, r
    path = sorted((p.root / "migrations" / "app").glob("*_more.json"))[-1]
    data = json.loads(path.read_text())
    data["operations"] = [{"kind": "RunSql", "sql": statement}]
    path.write_text(json.dumps(data, indent=2) + "\n")
    return [data["id"]]
