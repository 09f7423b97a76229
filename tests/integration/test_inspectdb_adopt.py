"""inspectdb on what an adopted database holds beside its tables' columns: foreign keys served
by an index that starts with their column, MySQL's ON UPDATE CURRENT_TIMESTAMP, MariaDB's
generated columns, and triggers. Each is said on stderr as it is, and an adopted database
shows no drift in ``checkschema`` afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_inspectdb import adopt_config, assert_round_trip

from conftest import Project, backend_name, execute, make_project

WARN = "warning: umbral inspectdb: "
NO_INDEX = "the foreign key has no index"

#: An auto-numbered primary key as another tool writes it.
SERIAL_PK = {
    "sqlite": "INTEGER PRIMARY KEY",
    "postgres": "SERIAL PRIMARY KEY",
    "mysql": "INTEGER AUTO_INCREMENT PRIMARY KEY",
}


def _no_drift(p: Project) -> None:
    r = p.run("checkschema")
    assert (r.code, r.out_lines[0][:15]) == (0, "No schema drift"), r
    assert p.run("checkschema", "--sql").out_lines == ["-- no schema drift: nothing to repair"]


def test_a_foreign_key_served_by_an_index_that_starts_with_it(any_project: Project) -> None:
    """``UNIQUE (author_id, slug)`` serves a key on ``author_id``, as an index on
    ``(owner_id, at)`` serves one on ``owner_id``: inspectdb warned that the key had no index,
    and checkschema then asked for a redundant one. An index where the column comes second
    does not serve it (MySQL makes one of its own for such a key)."""
    p, url = any_project, any_project.database
    serial = SERIAL_PK[backend_name(url)]
    execute(
        url,
        f"CREATE TABLE author (id {serial}, name VARCHAR(50) NOT NULL)",
        f"CREATE TABLE post (id {serial}, slug VARCHAR(50) NOT NULL, "
        "author_id INTEGER NOT NULL, editor_id INTEGER, owner_id INTEGER, at VARCHAR(30), "
        "CONSTRAINT post_author_slug UNIQUE (author_id, slug), "
        "FOREIGN KEY (author_id) REFERENCES author (id), "
        "FOREIGN KEY (editor_id) REFERENCES author (id), "
        "FOREIGN KEY (owner_id) REFERENCES author (id))",
        "CREATE INDEX post_owner_at ON post (owner_id, at)",
        "CREATE INDEX post_slug_editor ON post (slug, editor_id)",
        "INSERT INTO author (name) VALUES ('ann')",
        "INSERT INTO post (slug, author_id, editor_id, owner_id) VALUES ('a', 1, 1, 1)",
    )
    adopt_config(p)

    r = p.run("inspectdb", "--output", "legacy")

    assert r.code == 0, r
    warned = sorted(line.split(": ")[2] for line in r.err_lines if NO_INDEX in line)
    # MySQL makes an index of its own for a key no index starts with.
    assert warned == ([] if backend_name(url) == "mysql" else ["post.editor_id"]), r
    assert_round_trip(p)
    r = p.run("checkschema")
    if backend_name(url) == "mysql":
        _no_drift(p)
    else:  # only the key no index starts with asks for its own
        assert r.code == 1, r
        assert [line for line in r.out_lines if line.startswith(("-", "+", "~"))] == [
            "- index on post (editor_id) (in app/0001_initial, not in the database)"
        ], r
        sql = p.run("checkschema", "--sql").stdout
        assert "editor_id" in sql and "author_id" not in sql and "owner_id" not in sql, sql


def test_sqlite_foreign_key_served_by_a_unique_constraint_of_its_table(project: Project) -> None:
    """SQLite's inline ``UNIQUE (author_id, slug)`` is an automatic index of the table."""
    p = project
    execute(
        p.database,
        "CREATE TABLE author (id INTEGER PRIMARY KEY)",
        "CREATE TABLE post (id INTEGER PRIMARY KEY, slug TEXT NOT NULL, "
        "author_id INTEGER NOT NULL REFERENCES author (id), UNIQUE (author_id, slug))",
    )
    adopt_config(p)
    r = p.run("inspectdb", "--output", "legacy")
    assert r.code == 0 and NO_INDEX not in r.stderr, r
    assert_round_trip(p)
    _no_drift(p)


@pytest.mark.mysql
def test_mysql_on_update_current_timestamp_is_warned(mysql_url: str, tmp_path: Path) -> None:
    """inspectdb said nothing of an ``ON UPDATE CURRENT_TIMESTAMP`` (but, for a column with a
    default, that the default was no literal): the models cannot carry it. umbral keeps it
    through a MODIFY that leaves the type; the initial migration does not write it."""
    p = make_project(tmp_path, mysql_url)
    execute(
        mysql_url,
        "CREATE TABLE person (id INT AUTO_INCREMENT PRIMARY KEY, nick VARCHAR(20) NULL, "
        "changed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, "
        "touched DATETIME(6) NULL ON UPDATE CURRENT_TIMESTAMP(6))",
    )
    adopt_config(p)

    r = p.run("inspectdb", "--output", "legacy")

    assert r.code == 0, r
    for column, clause in (("changed_at", "current_timestamp()"),
                           ("touched", "current_timestamp(6)")):  # fmt: skip
        assert (
            f"{WARN}person.{column}: ON UPDATE {clause} has no umbral equivalent; the model "
            "does not carry it. umbral keeps it when a migration changes the column and leaves "
            "its type, but a database built from the migrations does not have it (set the value "
            "on update in your code)"
        ) in r.err_lines, r
        models = (p.root / "legacy" / "models.py").read_text()
        assert f"    # ON UPDATE {clause} in the database\n    {column} = " in models, models
    assert "nick" not in r.stderr, r
    assert_round_trip(p)
    _no_drift(p)
    r = p.run("sqlmigrate", "app/0001_initial")
    assert r.code == 0 and "CREATE TABLE" in r.stdout and "ON UPDATE" not in r.stdout.upper(), r


#: Generated columns as each database takes them (MariaDB: VIRTUAL and STORED; PostgreSQL:
#: STORED only) -> the expression inspectdb prints inside AS (...).
GENERATED = {
    "sqlite": (
        "total INTEGER GENERATED ALWAYS AS ((qty + extra)) STORED, "
        "twice INTEGER AS ((qty + extra) * 2) VIRTUAL",
        {"total": "qty + extra", "twice": "(qty + extra) * 2"},
    ),
    "postgres": (
        "total INTEGER GENERATED ALWAYS AS (qty + extra) STORED, "
        "twice INTEGER GENERATED ALWAYS AS ((qty + extra) * 2) STORED",
        {"total": "qty + extra", "twice": "(qty + extra) * 2"},
    ),
    "mysql": (
        "total INTEGER AS (qty + extra) VIRTUAL, twice INTEGER AS ((qty + extra) * 2) STORED",
        {"total": "`qty` + `extra`", "twice": "(`qty` + `extra`) * 2"},
    ),
}


def test_a_generated_columns_expression_is_printed_in_one_pair(any_project: Project) -> None:
    """MariaDB (SHOW CREATE TABLE) and PostgreSQL (pg_get_expr) give the expression with its
    own parentheses, and inspectdb printed ``AS ((a + b))``."""
    p, url = any_project, any_project.database
    columns, expected = GENERATED[backend_name(url)]
    execute(
        url,
        f"CREATE TABLE line (id {SERIAL_PK[backend_name(url)]}, qty INTEGER, extra INTEGER, "
        f"{columns})",
        "INSERT INTO line (qty, extra) VALUES (2, 3)",
    )
    adopt_config(p)

    r = p.run("inspectdb", "--output", "legacy")

    assert r.code == 0, r
    models = (p.root / "legacy" / "models.py").read_text()
    for column, expression in expected.items():
        assert (
            f"{WARN}line.{column}: a generated column (AS ({expression})); the model has a "
            "plain field"
        ) in r.err_lines, r
        assert f"    # generated column in the database: AS ({expression})\n" in models, models
    assert_round_trip(p)
    _no_drift(p)
