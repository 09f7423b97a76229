"""A table umbral did not create keeps what its models do not describe.

``inspectdb`` adopts a legacy database whose tables hold CHECK constraints, a collation and a
composite foreign key, none of which a model can say. Changing a column afterwards must keep
them: PostgreSQL alters the column in place; SQLite rebuilds the table from the models and
carries them over from the stored definition. What a rebuild cannot carry stops the migration
before anything changes.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from conftest import (
    SERIAL,
    Project,
    backend_name,
    execute,
    make_project,
    rows,
    schema_of,
    sqlite_path,
)

LEGACY = {
    "sqlite": [
        "CREATE TABLE shelf (id INTEGER PRIMARY KEY, label TEXT NOT NULL)",
        "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "qty INTEGER NOT NULL CHECK (qty >= 0), price REAL NOT NULL, "
        "shelf_id INTEGER REFERENCES shelf (id), "
        "CONSTRAINT item_price_positive CHECK (price > 0), "
        "CONSTRAINT item_shelved_stock CHECK (shelf_id IS NOT NULL OR qty = 0), "
        "CONSTRAINT item_stock_value CHECK (qty * price < 1000))",
        "CREATE INDEX idx_item_shelf_id ON item (shelf_id)",
    ],
    "postgres": [
        "CREATE TABLE shelf (id BIGSERIAL PRIMARY KEY, label TEXT NOT NULL)",
        "CREATE TABLE item (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, "
        "qty INTEGER NOT NULL CHECK (qty >= 0), price DOUBLE PRECISION NOT NULL, "
        "shelf_id BIGINT REFERENCES shelf (id), "
        "CONSTRAINT item_price_positive CHECK (price > 0), "
        "CONSTRAINT item_shelved_stock CHECK (shelf_id IS NOT NULL OR qty = 0), "
        "CONSTRAINT item_stock_value CHECK (qty * price < 1000))",
        "CREATE INDEX idx_item_shelf_id ON item (shelf_id)",
    ],
    # MySQL and MariaDB ignore a REFERENCES written on the column: the key is a table constraint.
    "mysql": [
        "CREATE TABLE shelf (id BIGINT AUTO_INCREMENT PRIMARY KEY, label TEXT NOT NULL)",
        "CREATE TABLE item (id BIGINT AUTO_INCREMENT PRIMARY KEY, name TEXT NOT NULL, "
        "qty INTEGER NOT NULL CHECK (qty >= 0), price DOUBLE NOT NULL, shelf_id BIGINT, "
        "CONSTRAINT item_price_positive CHECK (price > 0), "
        "CONSTRAINT item_shelved_stock CHECK (shelf_id IS NOT NULL OR qty = 0), "
        "CONSTRAINT item_stock_value CHECK (qty * price < 1000), "
        "FOREIGN KEY (shelf_id) REFERENCES shelf (id))",
        "CREATE INDEX idx_item_shelf_id ON item (shelf_id)",
    ],
}
DATA = [
    "INSERT INTO shelf (label) VALUES ('top'), ('bottom')",
    "INSERT INTO item (name, qty, price, shelf_id) VALUES ('ann', 3, 1.5, 1), "
    "('bob', 0, 2.25, NULL), ('cid', 7, 9.0, 2)",
]


def _inspect(p: Project) -> None:
    (p.root / "models.py").unlink()  # the project's empty one: inspectdb writes its own
    r = p.run("inspectdb", "--output", ".")
    assert r.code == 0, r


def _adopt(p: Project, *statements: str) -> str:
    """Build a legacy database with ``statements``, adopt it (inspectdb, migrate --fake-initial)
    and return the models inspectdb wrote."""
    execute(p.database, *statements)
    _inspect(p)
    r = p.run("migrate", "--fake-initial")
    assert r.code == 0, r
    assert p.run("makemigrations", "--check").code == 0  # the models say what the tables are
    return (p.root / "models.py").read_text()


def _rewrite(p: Project, old: str, new: str) -> None:
    """Change the models and write the migration."""
    models = (p.root / "models.py").read_text()
    assert old in models, models
    p.write("models.py", models.replace(old, new))
    r = p.run("makemigrations")
    assert r.code == 0, r


def _change(p: Project, old: str, new: str, *flags: str) -> None:
    _rewrite(p, old, new)
    r = p.run("migrate", *flags)
    assert r.code == 0, r


def _refused(url: str, *statements: str) -> bool:
    """Whether the database refuses every one of ``statements`` (each in its own transaction)."""
    for statement in statements:
        try:
            execute(url, statement)
        except Exception as exc:  # sqlite3.IntegrityError, psycopg's CheckViolation, MariaDB 4025
            if not any(word in str(exc).lower() for word in ("check", "constraint")):
                raise
        else:
            return False
    return True


def _items(url: str) -> list[tuple]:
    return rows(url, "SELECT id, name, qty, price, shelf_id FROM item ORDER BY id")


def test_a_changed_column_keeps_the_tables_check_constraints(any_project: Project) -> None:
    p, url = any_project, any_project.database
    _adopt(p, *LEGACY[backend_name(url)], *DATA)
    before, schema = _items(url), schema_of(url)

    _change(p, "qty = fields.Integer()", "qty = fields.BigInt()")

    after = schema_of(url)
    assert _items(url) == before
    assert after["item"]["indexes"] == schema["item"]["indexes"]
    assert after["item"]["fks"] == schema["item"]["fks"]
    assert [c[0] for c in after["item"]["columns"]] == [c[0] for c in schema["item"]["columns"]]
    # Every CHECK still bites: the column's own, and both table constraints.
    assert _refused(
        url,
        "INSERT INTO item (name, qty, price, shelf_id) VALUES ('neg', -1, 1.0, 1)",
        "INSERT INTO item (name, qty, price, shelf_id) VALUES ('free', 1, 0, 1)",
        "INSERT INTO item (name, qty, price, shelf_id) VALUES ('loose', 2, 1.0, NULL)",
    )
    execute(url, "INSERT INTO item (name, qty, price, shelf_id) VALUES ('ok', 1, 1.0, 1)")
    assert len(_items(url)) == len(before) + 1

    # Dropping the foreign-key column (a rebuild on SQLite) takes the CHECK that names it with
    # it, as PostgreSQL does, and keeps the others.
    fk = "shelf_id = fields.ForeignKey("
    _change(p, fk, "# " + fk, "--allow-destructive")
    assert rows(url, "SELECT name, qty, price FROM item ORDER BY id") == [
        r[1:4] for r in before
    ] + [("ok", 1, 1.0)]
    execute(url, "INSERT INTO item (name, qty, price) VALUES ('loose', 2, 1.0)")  # allowed now
    assert _refused(
        url,
        "INSERT INTO item (name, qty, price) VALUES ('neg', -1, 1.0)",
        "INSERT INTO item (name, qty, price) VALUES ('free', 1, 0)",
        "INSERT INTO item (name, qty, price) VALUES ('dear', 10, 200)",
    )

    # Dropping a plain column (in place on SQLite too) takes the CHECKs that name it as well.
    names = rows(url, "SELECT name, price FROM item ORDER BY id")
    _change(p, "qty = fields.BigInt()", "", "--allow-destructive")
    assert rows(url, "SELECT name, price FROM item ORDER BY id") == names
    execute(url, "INSERT INTO item (name, price) VALUES ('dear', 200)")  # allowed now
    assert _refused(url, "INSERT INTO item (name, price) VALUES ('free', 0)")


SQLITE_EXTRAS = [
    "CREATE TABLE bin (id INTEGER PRIMARY KEY, aisle INTEGER NOT NULL, slot INTEGER NOT NULL, "
    "UNIQUE (aisle, slot))",
    "CREATE TABLE part (id INTEGER PRIMARY KEY, code TEXT NOT NULL COLLATE NOCASE, "
    "qty INTEGER NOT NULL CONSTRAINT part_qty_small CHECK (qty < 100), "
    "aisle INTEGER, slot INTEGER, FOREIGN KEY (aisle, slot) REFERENCES bin (aisle, slot))",
    "CREATE INDEX part_code ON part (code)",  # a legacy name: the model says index=True
    "INSERT INTO bin (aisle, slot) VALUES (1, 1), (1, 2)",
    "INSERT INTO part (code, qty, aisle, slot) VALUES ('Ab-1', 5, 1, 1), ('cd-2', 6, 1, 2), "
    "('EF-3', 7, NULL, NULL)",
]


def _part_definition(path: str) -> str:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT sql FROM sqlite_master WHERE name = 'part'").fetchone()[0]


def test_a_sqlite_rebuild_keeps_collations_and_foreign_keys_the_models_lack(
    project: Project,
) -> None:
    p, url = project, project.database
    models = _adopt(p, *SQLITE_EXTRAS)
    assert "COLLATE" not in models and "ForeignKey" not in models  # nothing a model can say
    part = "SELECT id, code, qty, aisle, slot FROM part ORDER BY id"
    before = rows(url, part)
    indexes = schema_of(url)["part"]["indexes"]

    _change(p, "qty = fields.Integer()", "qty = fields.BigInt()")

    path = sqlite_path(url)
    assert rows(url, part) == before
    # The models' index on `code` is made under umbral's name, and not twice.
    assert indexes == [("part_code", ("code",), False)]
    assert schema_of(url)["part"]["indexes"] == [("idx_part_code", ("code",), False)]
    assert "BIGINT" in _part_definition(path)  # rebuilt from the models
    # The collation: a case-insensitive lookup, through the index too.
    assert rows(url, "SELECT id FROM part WHERE code = 'ab-1'") == [(1,)]
    # The composite foreign key, enforced.
    assert rows(url, "PRAGMA foreign_key_list(part)") == rows(
        url, "SELECT 0, 0, 'bin', 'aisle', 'aisle', 'NO ACTION', 'NO ACTION', 'NONE' "
        "UNION ALL SELECT 0, 1, 'bin', 'slot', 'slot', 'NO ACTION', 'NO ACTION', 'NONE'"
    )  # fmt: skip
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            conn.execute("INSERT INTO part (code, qty, aisle, slot) VALUES ('x', 1, 9, 9)")
        with pytest.raises(sqlite3.IntegrityError, match="part_qty_small"):
            conn.execute("INSERT INTO part (code, qty) VALUES ('x', 100)")

    # A second rebuild carries them again, and nothing twice.
    _change(p, "qty = fields.BigInt()", "qty = fields.BigInt(nullable=True)")
    definition = _part_definition(path)
    assert definition.count("COLLATE NOCASE") == 1
    assert definition.count("part_qty_small") == 1
    assert definition.count("FOREIGN KEY") == 1
    assert rows(url, part) == before


@pytest.mark.parametrize(
    ("ddl", "reason"),
    [
        (
            "CREATE TABLE part (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL, price REAL, "
            "total REAL GENERATED ALWAYS AS (qty * price) VIRTUAL)",
            "generated column(s) `total` cannot be copied",
        ),
        (
            "CREATE TABLE part (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL, price REAL) STRICT",
            "it is a STRICT table",
        ),
        (
            "CREATE TABLE part (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL, price REAL)",
            "it has column(s) `extra` that its models do not declare",
        ),
    ],
    ids=["generated", "strict", "undeclared-column"],
)
def test_a_sqlite_rebuild_that_would_lose_something_is_refused(
    project: Project, ddl: str, reason: str
) -> None:
    p, url = project, project.database
    _adopt(p, ddl, "INSERT INTO part (qty, price) VALUES (2, 1.5), (3, 2.5)")
    if "extra" in reason:  # a column added by hand after the table was adopted
        execute(url, "ALTER TABLE part ADD COLUMN extra TEXT", "UPDATE part SET extra = 'kept'")
    path = sqlite_path(url)
    definition = _part_definition(path)
    data = rows(url, "SELECT * FROM part ORDER BY id")
    _rewrite(p, "qty = fields.Integer()", "qty = fields.BigInt()")

    r = p.run("migrate")

    assert r.code == 1, r
    assert r.err_lines[0].startswith(
        "error: umbral migrate: migration app/0002_alter_part_qty failed and was rolled back: "
        "SQLite table `part` cannot be rebuilt without losing what its models do not describe: "
        + reason
    ), r
    assert "RunSql" in r.err_lines[0]
    assert "Traceback" not in r.stderr
    # Nothing changed: the table, its rows, and the tracking table.
    assert _part_definition(path) == definition
    assert rows(url, "SELECT * FROM part ORDER BY id") == data
    assert rows(url, "SELECT name FROM umbral_migrations ORDER BY name") == [("0001_initial",)]


def test_a_refused_rebuild_can_be_written_by_hand_in_the_migration(project: Project) -> None:
    """The way out the error names: the operation replaced by a RunSql in the written file,
    its snapshot kept."""
    p, url = project, project.database
    _adopt(
        p,
        "CREATE TABLE part (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL, price REAL, "
        "total REAL GENERATED ALWAYS AS (qty * price) VIRTUAL)",
        "INSERT INTO part (qty, price) VALUES (2, 1.5), (3, 2.5)",
    )
    _rewrite(p, "qty = fields.Integer()", "qty = fields.BigInt()")
    assert p.run("migrate").code == 1
    name = "0002_alter_part_qty.json"
    written = p.load_migration("app", name)
    written["operations"] = [
        {
            "kind": "RunSql",
            "sql": "CREATE TABLE part_new (id INTEGER PRIMARY KEY, qty BIGINT NOT NULL, "
            "price REAL, total REAL GENERATED ALWAYS AS (qty * price) VIRTUAL); "
            "INSERT INTO part_new (id, qty, price) SELECT id, qty, price FROM part; "
            "DROP TABLE part; ALTER TABLE part_new RENAME TO part",
        }
    ]
    (p.root / "migrations" / "app" / name).write_text(json.dumps(written, indent=2))

    r = p.run("migrate")

    assert r.code == 0, r
    assert p.run("makemigrations", "--check").code == 0
    assert rows(url, "SELECT id, qty, price, total FROM part ORDER BY id") == [
        (1, 2, 1.5, 3.0),
        (2, 3, 2.5, 7.5),
    ]
    assert "BIGINT" in _part_definition(sqlite_path(url))


def test_inspectdb_says_which_columns_are_generated(any_project: Project) -> None:
    p, url = any_project, any_project.database
    real = "REAL" if url.startswith("sqlite") else "DOUBLE PRECISION"
    execute(
        url,
        f"CREATE TABLE part (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL, price {real}, "
        f"total {real} GENERATED ALWAYS AS (qty * price) STORED)",
    )
    (p.root / "models.py").unlink()

    r = p.run("inspectdb", "--output", ".")

    assert r.code == 0, r
    warning = next(line for line in r.err_lines if "part.total" in line)
    assert warning.startswith("warning: umbral inspectdb: part.total: a generated column (AS (")
    assert warning.endswith("); the model has a plain field")
    models = (p.root / "models.py").read_text()
    assert "# generated column in the database: AS (" in models
    assert p.run("migrate", "--fake-initial").code == 0
    assert p.run("makemigrations", "--check").code == 0


def test_dropping_a_column_drops_the_indexes_that_use_it(
    any_project: Project, request: pytest.FixtureRequest
) -> None:
    """Indexes the models do not know (an adopted index under its legacy name, a hand-made
    composite or partial one) go with the column they use, as PostgreSQL's DROP COLUMN does;
    SQLite would otherwise refuse to drop the column."""
    p, url = any_project, any_project.database
    p.models(
        """
        class Book(Model):
            title = fields.Text(index=True)
            isbn = fields.Text(nullable=True)
        """
    )
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    if backend_name(url) == "mysql":  # an index on unbounded text takes a prefix; none is partial
        made = [
            "CREATE INDEX book_title_isbn ON book (title(50), isbn(50))",
            "CREATE INDEX book_isbn ON book (isbn(50))",
        ]
    else:
        made = [
            "CREATE INDEX book_title_isbn ON book (title, isbn)",
            "CREATE INDEX book_titled ON book (isbn) WHERE title <> ''",
            "CREATE INDEX book_isbn ON book (isbn)",
        ]
    execute(url, "INSERT INTO book (title, isbn) VALUES ('a', '1'), ('b', NULL)", *made)
    p.models(
        """
        class Book(Model):
            isbn = fields.Text(nullable=True)
        """
    )
    assert p.run("makemigrations").code == 0

    r = p.run("migrate", "--allow-destructive")

    assert r.code == 0, r
    assert schema_of(url)["book"]["indexes"] == [("book_isbn", ("isbn",), False)]
    assert rows(url, "SELECT id, isbn FROM book ORDER BY id") == [(1, "1"), (2, None)]


def test_a_check_naming_a_dropped_column_that_cannot_be_removed_stops_the_drop(
    project: Project,
) -> None:
    p, url = project, project.database
    _adopt(
        p,
        "CREATE TABLE part (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL, price REAL NOT NULL, "
        "CONSTRAINT part_value CHECK (qty * price < 100))",
        "CREATE TABLE audit (id INTEGER PRIMARY KEY, part_id INTEGER)",
        "CREATE TRIGGER part_audit AFTER UPDATE ON part BEGIN INSERT INTO audit (part_id) "
        "VALUES (new.id); END",
        "INSERT INTO part (qty, price) VALUES (2, 1.5)",
    )
    _rewrite(p, "qty = fields.Integer()", "")
    definition = _part_definition(sqlite_path(url))

    r = p.run("migrate", "--allow-destructive")

    assert r.code == 1, r
    assert r.err_lines[0] == (
        "error: umbral migrate: migration app/0002_drop_part_qty failed and was rolled back: "
        "SQLite cannot drop column `qty` of `part` while CONSTRAINT part_value CHECK "
        "(qty * price < 100) name(s) it, and could not remove them (the table has triggers, "
        "or the connection does not allow schema edits); drop the column by hand in a RunSql "
        "migration"
    ), r
    assert _part_definition(sqlite_path(url)) == definition
    assert rows(url, "SELECT id, qty, price FROM part") == [(1, 2, 1.5)]


def test_a_column_of_a_unique_constraint_in_the_definition_can_be_dropped(
    any_project: Project,
    request: pytest.FixtureRequest,
) -> None:
    """SQLite refuses to drop a column of a UNIQUE constraint declared in the table's
    definition (an adopted table); PostgreSQL drops the constraint with it. Both drop it."""
    p, url = any_project, any_project.database
    serial = SERIAL[backend_name(url)]
    _adopt(
        p,
        f"CREATE TABLE book (id {serial} PRIMARY KEY, isbn TEXT UNIQUE, shelf INTEGER NOT NULL, "
        "slot INTEGER NOT NULL, title TEXT NOT NULL, UNIQUE (shelf, slot), "
        "CONSTRAINT book_titled CHECK (title <> ''))",
        "INSERT INTO book (isbn, shelf, slot, title) VALUES ('1', 1, 1, 'a'), (NULL, 1, 2, 'b')",
    )
    models = (p.root / "models.py").read_text()
    assert "unique=True" in models and "unique_together" in models
    _change(p, "    isbn = fields.Text(nullable=True, unique=True)\n", "", "--allow-destructive")
    text = (p.root / "models.py").read_text()
    p.write("models.py", text.replace("    slot = fields.Integer()\n", ""))
    _change(p, 'unique_together=[("shelf", "slot")]', "", "--allow-destructive")

    assert rows(url, "SELECT id, shelf, title FROM book ORDER BY id") == [(1, 1, "a"), (2, 1, "b")]
    assert [c[0] for c in schema_of(url)["book"]["columns"]] == ["id", "shelf", "title"]
    assert _refused(url, "INSERT INTO book (shelf, title) VALUES (3, '')")  # the CHECK stays
    execute(url, "INSERT INTO book (shelf, title) VALUES (1, 'c')")  # (shelf) alone: not unique


@pytest.mark.parametrize("rename", ["table", "column"])
def test_a_rename_keeps_one_index_where_the_legacy_one_was(
    any_project: Project, request: pytest.FixtureRequest, rename: str
) -> None:
    """An index adopted under its legacy name stays the table's only index on its columns
    through a rename (umbral names it after the table and column, and renames it when they
    change; a legacy-named one keeps its name, on both backends)."""
    p, url = any_project, any_project.database
    serial = SERIAL[backend_name(url)]
    _adopt(
        p,
        f"CREATE TABLE book (id {serial} PRIMARY KEY, title TEXT NOT NULL)",
        "CREATE INDEX book_title_ix ON book (title)",
        "INSERT INTO book (title) VALUES ('a'), ('b')",
    )
    if rename == "table":
        _change(p, "class Book(Model", 'class Book(Model, table="volume"')
        table, column = "volume", "title"
    else:
        _change(p, "title = fields.Text(index=True)", "name = fields.Text(index=True)")
        table, column = "book", "name"

    assert schema_of(url)[table]["indexes"] == [("book_title_ix", (column,), False)]
    assert rows(url, f"SELECT id, {column} FROM {table} ORDER BY id") == [(1, "a"), (2, "b")]


#: Adopted PostgreSQL columns with collations a model cannot say: the built-in "C", one of
#: the database's own in another schema, and none (the database's default).
COLLATED = [
    "CREATE SCHEMA legacy",
    'CREATE COLLATION legacy.bytewise FROM "C"',
    'CREATE TABLE person (id serial PRIMARY KEY, name varchar(50) COLLATE "C" NOT NULL, '
    "code varchar(10) COLLATE legacy.bytewise NOT NULL, nick varchar(20) NOT NULL)",
    "INSERT INTO person (name, code, nick) VALUES ('b', 'x', 'n'), ('B', 'Y', 'm')",
]


def _collations(url: str) -> dict[str, tuple[str, str, str]]:
    """``column -> (type, collation's schema, collation)`` of ``person``'s text columns."""
    found = rows(
        url,
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), n.nspname, c.collname "
        "FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation "
        "JOIN pg_namespace n ON n.oid = c.collnamespace "
        "WHERE a.attrelid = 'person'::regclass AND a.attnum > 0 ORDER BY a.attnum",
    )
    return {name: (kind, schema, collation) for name, kind, schema, collation in found}


@pytest.mark.postgres
@pytest.mark.parametrize("atomic", [True, False])
def test_a_postgres_type_change_keeps_the_columns_collation(
    tmp_path: Path, postgres_url: str, atomic: bool
) -> None:
    """A longer VARCHAR (and TEXT, which casts with USING) keeps the collation the column
    has; ``sqlmigrate`` shows the statement as rendered and names the run-time way. A column
    with the default collation gets the plain statement. ``"atomic": false`` runs the
    migration statement by statement (the step resolved ahead)."""
    p, url = make_project(tmp_path, postgres_url), postgres_url
    _adopt(p, *COLLATED)
    before = rows(url, "SELECT name, code, nick FROM person ORDER BY name")
    _rewrite(p, "name = fields.Text(max_length=50)", "name = fields.Text(max_length=80)")
    models = (p.root / "models.py").read_text()
    p.write(
        "models.py",
        models.replace("code = fields.Text(max_length=10)", "code = fields.Text()").replace(
            "nick = fields.Text(max_length=20)", "nick = fields.Text(max_length=30)"
        ),
    )
    assert p.run("makemigrations").code == 0
    first, second = p.migration_files()[-2:]
    for name in (first, second):
        if not atomic:
            path = p.root / "migrations" / "app" / name
            data = json.loads(path.read_text())
            data["atomic"] = False
            path.write_text(json.dumps(data))
    r = p.run("migrate")
    assert r.code == 0, r

    assert _collations(url) == {
        "name": ("character varying(80)", "pg_catalog", "C"),
        "code": ("text", "legacy", "bytewise"),
        "nick": ("character varying(30)", "pg_catalog", "default"),
    }
    assert rows(url, "SELECT name, code, nick FROM person ORDER BY name") == before
    # "C" sorts upper case first, whatever the database's default collation does.
    assert rows(url, "SELECT name FROM person ORDER BY name") == [("B",), ("b",)]
    # The script shows the statement as rendered: it cannot know the collation.
    shown = p.run("sqlmigrate", "app/" + first.removesuffix(".json"))
    assert shown.code == 0, shown
    assert shown.out_lines[-2:] == [
        'ALTER TABLE "person" ALTER COLUMN "name" TYPE VARCHAR(80);',
        "-- at run time, if it applies: Retype (keeps the column's collation, as pg_attribute "
        "has it, when it is not the database's default)",
    ]
