"""``sqlmigrate``'s script of a SQLite migration that ``migrate`` runs with foreign-key
enforcement off (a table rebuild) turns enforcement off itself: run by hand on a connection
that enforces foreign keys, its ``DROP TABLE`` must not cascade to (or be refused by) the rows
that reference the rebuilt table, and a script that leaves new dangling references undoes
itself, as ``migrate`` would."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import Project, execute, sqlite_path

PARENT = """
class Parent(Model):
    name = fields.Text(max_length={length}{nullable})


class Child(Model):
    parent = fields.ForeignKey(Parent, on_delete="{action}")
"""


def _models(p: Project, action: str, changed: bool) -> None:
    nullable = ", nullable=True" if changed else ""
    p.models(PARENT.format(length=20 if changed else 10, nullable=nullable, action=action))


def _rebuild_script(p: Project, action: str) -> tuple[str, str]:
    """A migrated parent with two children, then a migration that rebuilds ``parent``:
    (its name, the script sqlmigrate prints for it)."""
    _models(p, action, changed=False)
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(
        p.database,
        "INSERT INTO parent (name) VALUES ('a')",
        "INSERT INTO child (parent) VALUES (1), (1)",
    )
    _models(p, action, changed=True)
    assert p.run("makemigrations").code == 0
    name = "app/" + p.migration_files()[-1].removesuffix(".json")
    r = p.run("sqlmigrate", name)
    assert r.code == 0, r
    return name, r.stdout


def _run_by_hand(path: Path, script: str) -> None:
    """The script on a connection that enforces foreign keys, as a sqlite3 shell with
    ``PRAGMA foreign_keys=ON`` first (or an application's connection) runs it."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.executescript(script)
    finally:
        conn.close()


def _dump(path: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    try:
        return {
            t: conn.execute(f'SELECT * FROM "{t}" ORDER BY id').fetchall()
            for t in ("parent", "child")
        }
    finally:
        conn.close()


@pytest.mark.parametrize("action", ["cascade", "restrict"])
def test_a_rebuild_run_by_hand_keeps_the_rows_that_reference_it(
    project: Project, tmp_path: Path, action: str
) -> None:
    p = project
    _, script = _rebuild_script(p, action)
    copy = tmp_path / "copy.sqlite3"
    shutil.copy(sqlite_path(p.database), copy)
    _run_by_hand(copy, script)  # RESTRICT: it raised at DROP TABLE, part way
    assert _dump(copy) == {"parent": [(1, "a")], "child": [(1, 1), (2, 1)]}
    conn = sqlite3.connect(copy)
    try:
        cols = {r[1]: r for r in conn.execute("PRAGMA table_info(parent)")}
        assert (cols["name"][2], cols["name"][3]) == ("VARCHAR(20)", 0)  # the change ran
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("SELECT name FROM sqlite_temp_master").fetchall() == []
    finally:
        conn.close()
    # The same as migrate leaves it (its tracking row aside).
    assert p.run("migrate").code == 0
    assert _dump(Path(sqlite_path(p.database))) == _dump(copy)


def test_a_script_that_leaves_dangling_references_undoes_itself(
    project: Project, tmp_path: Path
) -> None:
    p = project
    name, _ = _rebuild_script(p, "restrict")
    # The migration also deletes the referenced parent: migrate refuses it (new dangling
    # references after a run with enforcement off), and so must the script.
    path = p.root / "migrations" / f"{name}.json"
    data = json.loads(path.read_text())
    data["operations"].append({"kind": "RunSql", "sql": "DELETE FROM parent", "reverse_sql": None})
    path.write_text(json.dumps(data))
    r = p.run("sqlmigrate", name)
    assert r.code == 0, r
    copy = tmp_path / "copy.sqlite3"
    shutil.copy(sqlite_path(p.database), copy)
    before = _dump(copy)
    with pytest.raises(sqlite3.IntegrityError, match="new dangling foreign-key references"):
        _run_by_hand(copy, r.stdout)
    assert _dump(copy) == before
    conn = sqlite3.connect(copy)
    try:
        cols = {r[1]: r for r in conn.execute("PRAGMA table_info(parent)")}
        assert cols["name"][2] == "VARCHAR(10)"  # the rebuild was rolled back too
    finally:
        conn.close()
    m = p.run("migrate")
    assert m.code != 0 and "dangling foreign-key" in m.stderr, m


def test_a_migration_without_a_rebuild_is_printed_bare(project: Project) -> None:
    p = project
    p.models("class Item(Model):\n    label = fields.Text()\n")
    assert p.run("makemigrations").code == 0
    name = "app/" + p.migration_files()[0].removesuffix(".json")
    r = p.run("sqlmigrate", name)
    assert r.code == 0, r
    assert "PRAGMA foreign_keys" not in r.stdout and "BEGIN" not in r.stdout
    data = json.loads(p.run("sqlmigrate", name, "--json").stdout)
    assert (data["before"], data["after"]) == ([], [])


@pytest.mark.parametrize("action", ["cascade", "restrict"])
def test_checkschema_repair_of_a_rebuild_keeps_the_rows_that_reference_it(
    project: Project, action: str
) -> None:
    """``checkschema --sql``'s repair of a SQLite table is a rebuild too, printed in the same
    frame: run by hand with enforcement on, it keeps the child rows and repairs the drift."""
    p = project
    _models(p, action, changed=False)
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    path = sqlite_path(p.database)
    execute(
        p.database,
        "INSERT INTO parent (name) VALUES ('a')",
        "INSERT INTO child (parent) VALUES (1), (1)",
    )
    # Drift made by hand: the parent rebuilt with its name nullable.
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        (ddl,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'parent'").fetchone()
        conn.executescript(
            "PRAGMA foreign_keys = OFF; BEGIN; "
            + ddl.replace('"parent"', '"parent_old"', 1).replace(" NOT NULL", "", 2)
            + "; INSERT INTO parent_old SELECT * FROM parent; DROP TABLE parent; "
            "ALTER TABLE parent_old RENAME TO parent; COMMIT;"
        )
    finally:
        conn.close()
    r = p.run("checkschema")
    assert r.code == 1 and "parent.name" in r.stdout, r
    r = p.run("checkschema", "--sql")
    assert r.code == 1, r
    assert r.stdout.index("PRAGMA foreign_keys = OFF;") < r.stdout.index('DROP TABLE "parent"')
    data = json.loads(p.run("checkschema", "--sql", "--json").stdout)
    assert data["before"][0] == "PRAGMA foreign_keys = OFF" and data["after"][-1].endswith("ON")
    _run_by_hand(Path(path), r.stdout)
    assert _dump(Path(path)) == {"parent": [(1, "a")], "child": [(1, 1), (2, 1)]}
    r = p.run("checkschema")
    assert r.code == 0 and "No schema drift" in r.stdout, r


def test_migrate_names_a_new_dangling_reference(project: Project) -> None:
    """The refusal names the table, the column and a value with no target, as PostgreSQL's
    foreign-key error does; a row that dangled before the migration is not the one shown."""
    p = project
    name, _ = _rebuild_script(p, "restrict")
    execute(p.database, "INSERT INTO child (parent) VALUES (7)")  # enforcement is off here
    path = p.root / "migrations" / f"{name}.json"
    data = json.loads(path.read_text())
    data["operations"].append({"kind": "RunSql", "sql": "DELETE FROM parent", "reverse_sql": None})
    path.write_text(json.dumps(data))
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines[0] == (
        f"error: umbral migrate: migration {name} failed and was rolled back: it would leave 2 "
        "new dangling foreign-key reference(s) (e.g. `child.parent` = 1: no row of `parent` "
        "has that id)"
    ), r
