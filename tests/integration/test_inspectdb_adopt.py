"""inspectdb on what an adopted database holds beside its tables' columns: foreign keys served
by an index that starts with their column, MySQL's ON UPDATE CURRENT_TIMESTAMP, MariaDB's
generated columns, and triggers. Each is said on stderr as it is, and an adopted database
shows no drift in ``checkschema`` afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_inspectdb import adopt_config, assert_round_trip

from conftest import Project, backend_name, execute, make_project, rows

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
    # MariaDB's `DEFAULT current_timestamp() ON UPDATE current_timestamp()` is read as the
    # current-time default with its ON UPDATE apart: `auto_now`, no default warned about.
    models = (p.root / "legacy" / "models.py").read_text()
    assert "    changed_at = fields.Timestamptz(auto_now=True)\n" in models, models
    assert "touched = fields.Timestamp(nullable=True)\n" in models, models
    assert not [line for line in r.err_lines if "is not a literal" in line], r
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


#: Two triggers on `item` (an audit and a stamp) per backend, and how inspectdb names them.
TRIGGERS = {
    "sqlite": (
        [
            "CREATE TRIGGER item_audit AFTER UPDATE ON item "
            "BEGIN INSERT INTO audit (item_id) VALUES (new.id); END",
            "CREATE TRIGGER item_stamp BEFORE INSERT ON item BEGIN SELECT 1; END",
        ],
        "item_audit (AFTER UPDATE), item_stamp (BEFORE INSERT)",
    ),
    "postgres": (
        [
            "CREATE FUNCTION audit_item() RETURNS trigger LANGUAGE plpgsql AS "
            "$$BEGIN INSERT INTO audit (item_id) VALUES (NEW.id); RETURN NEW; END$$",
            "CREATE TRIGGER item_audit AFTER UPDATE ON item FOR EACH ROW "
            "EXECUTE FUNCTION audit_item()",
            "CREATE TRIGGER item_stamp BEFORE INSERT OR UPDATE ON item FOR EACH ROW "
            "EXECUTE FUNCTION audit_item()",
        ],
        "item_audit (AFTER UPDATE), item_stamp (BEFORE INSERT OR UPDATE)",
    ),
    "mysql": (
        [
            "CREATE TRIGGER item_audit AFTER UPDATE ON item FOR EACH ROW "
            "INSERT INTO audit (item_id) VALUES (NEW.id)",
            "CREATE TRIGGER item_stamp BEFORE INSERT ON item FOR EACH ROW SET NEW.qty = NEW.qty",
        ],
        "item_audit (AFTER UPDATE), item_stamp (BEFORE INSERT)",
    ),
}


def test_triggers_are_named_with_what_umbral_does_with_them(any_project: Project) -> None:
    """inspectdb said nothing of a table's triggers: umbral does not manage them, and they
    fire on the rows a migration writes in place."""
    p, url = any_project, any_project.database
    serial = SERIAL_PK[backend_name(url)]
    statements, shown = TRIGGERS[backend_name(url)]
    execute(
        url,
        f"CREATE TABLE item (id {serial}, qty INTEGER)",
        f"CREATE TABLE audit (id {serial}, item_id INTEGER)",
        *statements,
        "INSERT INTO item (qty) VALUES (1)",
    )
    adopt_config(p)

    r = p.run("inspectdb", "--output", "legacy")

    assert r.code == 0, r
    warned = [line for line in r.err_lines if "trigger" in line]
    assert warned == [
        f"{WARN}item: trigger(s) {shown} not managed by umbral: the models do not carry them "
        "(they stay in the database; a database built from the migrations has none), and they "
        "fire on the rows a migration writes in place (the fill of NULLs before NOT NULL, "
        "RunSql, RunPython), not on the copy of a table rebuild, which makes them again after "
        "it"
    ], r
    models = (p.root / "legacy" / "models.py").read_text()
    assert f"# trigger(s) in the database: {shown}\nclass Item(Model" in models, models
    assert_round_trip(p)
    _no_drift(p)


def test_sqlite_rebuild_of_an_adopted_table_keeps_its_triggers(project: Project) -> None:
    """What the warning says of a rebuild: the copy fires no trigger, and the triggers are
    made again after the swap (``DROP TABLE`` takes them with the old table)."""
    p = project
    statements, _shown = TRIGGERS["sqlite"]
    execute(
        p.database,
        "CREATE TABLE item (id INTEGER PRIMARY KEY, qty INTEGER)",
        "CREATE TABLE audit (id INTEGER PRIMARY KEY, item_id INTEGER)",
        *statements,
        "INSERT INTO item (qty) VALUES (1), (NULL)",
    )
    adopt_config(p)
    assert p.run("inspectdb", "--output", "legacy").code == 0
    assert_round_trip(p)
    models = p.root / "legacy" / "models.py"
    text = models.read_text()
    assert "    qty = fields.Integer(nullable=True)\n" in text, text
    p.write("legacy/models.py", text.replace("Integer(nullable=True)", "Integer(default=0)"))
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(p.database, "SELECT id, qty FROM item ORDER BY id") == [(1, 1), (2, 0)]
    triggers = "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
    assert rows(p.database, triggers) == [("item_audit",), ("item_stamp",)]
    assert rows(p.database, "SELECT item_id FROM audit") == []  # the copy fired none
    execute(p.database, "UPDATE item SET qty = 5 WHERE id = 2")
    assert rows(p.database, "SELECT item_id FROM audit") == [(2,)]
    _no_drift(p)


@pytest.mark.mysql
def test_mysql_dropping_the_index_that_serves_a_foreign_key_makes_its_own_first(
    mysql_url: str, tmp_path: Path
) -> None:
    """An adopted key served by ``UNIQUE (author_id, slug)`` has no index of its own (MySQL
    made none, and checkschema no longer asks for one): dropping the unique constraint, or a
    column of it, was refused by the server (1553) while the key needed it."""
    p = make_project(tmp_path, mysql_url)
    execute(
        mysql_url,
        "CREATE TABLE author (id INT AUTO_INCREMENT PRIMARY KEY)",
        "CREATE TABLE post (id INT AUTO_INCREMENT PRIMARY KEY, author_id INT NOT NULL, "
        "slug VARCHAR(20) NOT NULL, title VARCHAR(20) NOT NULL, "
        "CONSTRAINT post_author_slug UNIQUE (author_id, slug), "
        "CONSTRAINT post_author_title UNIQUE (author_id, title), "
        "FOREIGN KEY (author_id) REFERENCES author (id))",
        "INSERT INTO author () VALUES ()",
        "INSERT INTO post (author_id, slug, title) VALUES (1, 'a', 'A')",
    )
    adopt_config(p)
    assert p.run("inspectdb", "--output", "legacy").code == 0
    assert_round_trip(p)
    models = p.root / "legacy" / "models.py"
    text = models.read_text()
    group = 'unique_together=[("author_id", "slug"), ("author_id", "title")]'
    assert group in text, text
    # The first drop leaves an index that serves the key; the second (with its column) not.
    p.write("legacy/models.py", text.replace(group, 'unique_together=[("author_id", "title")]'))
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    text = models.read_text().replace(', unique_together=[("author_id", "title")]', "")
    p.write("legacy/models.py", text.replace("    title = fields.Text(max_length=20)\n", ""))
    assert p.run("makemigrations").code == 0
    r = p.run("migrate", "--allow-destructive")
    assert r.code == 0, r
    indexes = rows(
        mysql_url,
        "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = "
        "DATABASE() AND TABLE_NAME = 'post' ORDER BY 1",
    )
    assert sorted(indexes) == [("PRIMARY",), ("idx_post_author_id",)], indexes
    _no_drift(p)
