"""An index or constraint is found by what it is, not by the name umbral would have given it.

A column change that brings an index creates it once. A renamed table takes every index and
constraint umbral named after it along, a junction table's too, so the old names are free
again. On a table another tool created (adopted with ``inspectdb`` + ``migrate
--fake-initial``), changing a foreign key's actions replaces the constraint the table has,
whatever its name, and a SQLite rebuild keeps it deferrable when it was: afterwards each
column set has exactly one foreign key, with the model's actions.
"""

from __future__ import annotations

import sqlite3

import pytest

from conftest import (
    SERIAL,
    Project,
    _mysql_connect,
    backend_name,
    execute,
    rows,
    schema_of,
    sqlite_path,
)


def _backend(url: str) -> str:
    return backend_name(url)


def _migrate(p: Project, *flags: str) -> None:
    r = p.run("makemigrations")
    assert r.code == 0, r
    r = p.run("migrate", *flags)
    assert r.code == 0, r
    assert p.run("makemigrations", "--check").code == 0


def _indexes_on(url: str, table: str, columns: tuple[str, ...]) -> list[str]:
    return [n for n, cols, _u in schema_of(url)[table]["indexes"] if cols == columns]


def _adopt(p: Project, *statements: str) -> str:
    """Build a database with ``statements``, adopt it (inspectdb, migrate --fake-initial) and
    return the models inspectdb wrote."""
    execute(p.database, *statements)
    (p.root / "models.py").unlink()  # the project's empty one: inspectdb writes its own
    r = p.run("inspectdb", "--output", ".")
    assert r.code == 0, r
    r = p.run("migrate", "--fake-initial")
    assert r.code == 0, r
    assert p.run("makemigrations", "--check").code == 0
    return (p.root / "models.py").read_text()


def _edit(p: Project, old: str, new: str) -> None:
    models = (p.root / "models.py").read_text()
    assert old in models, models
    p.write("models.py", models.replace(old, new))


# -- a column change that adds an index ---------------------------------------------------


@pytest.mark.parametrize(
    "label",
    ["fields.Text(nullable=True, index=True)", 'fields.Text(index=True, default="x")'],
    ids=["nullable", "default"],
)
def test_a_column_change_that_adds_an_index_creates_it_once(
    any_project: Project, label: str
) -> None:
    p, url = any_project, any_project.database
    p.models("class Item(Model):\n    label = fields.Text()\n")
    _migrate(p)
    execute(url, "INSERT INTO item (label) VALUES ('a'), ('b'), ('a')")
    p.models(f"class Item(Model):\n    label = {label}\n")

    _migrate(p)

    assert _indexes_on(url, "item", ("label",)) == ["idx_item_label"]
    assert rows(url, "SELECT id, label FROM item ORDER BY id") == [(1, "a"), (2, "b"), (3, "a")]
    # Back and forth again: the reverse drops it, the forward run makes it once more.
    first = p.migration_files()[0].removesuffix(".json")
    r = p.run("migrate", f"app/{first}")
    assert r.code == 0, r
    assert _indexes_on(url, "item", ("label",)) == []
    r = p.run("migrate")
    assert r.code == 0, r
    assert _indexes_on(url, "item", ("label",)) == ["idx_item_label"]


def test_an_adopted_column_made_nullable_and_indexed_in_one_change(any_project: Project) -> None:
    p, url = any_project, any_project.database
    serial = SERIAL[backend_name(url)]
    _adopt(
        p,
        f"CREATE TABLE item (id {serial} PRIMARY KEY, label TEXT NOT NULL, qty INTEGER NOT NULL)",
        "CREATE INDEX item_qty_ix ON item (qty)",
        "INSERT INTO item (label, qty) VALUES ('a', 1), ('b', 2)",
    )
    _edit(p, "label = fields.Text()", "label = fields.Text(nullable=True, index=True)")

    _migrate(p)

    assert _indexes_on(url, "item", ("label",)) == ["idx_item_label"]
    assert len(_indexes_on(url, "item", ("qty",))) == 1  # SQLite's rebuild names it as umbral does
    execute(url, "INSERT INTO item (label, qty) VALUES (NULL, 3)")
    assert rows(url, "SELECT id, label, qty FROM item ORDER BY id") == [
        (1, "a", 1),
        (2, "b", 2),
        (3, None, 3),
    ]


# -- renaming a table ----------------------------------------------------------------------

BLOG = """
class Tag(Model):
    name = fields.Text(unique=True)

class Post(Model{options}):
    title = fields.Text(index=True)
    status = fields.Text(choices=["draft", "live"], default="draft")
    author = fields.ForeignKey(Tag, nullable=True)
    tags = fields.ManyToMany(Tag)
{more}"""
#: A new model under the renamed one's old table name, with the same columns and junction.
ENTRY = """
class Entry(Model, table="post"):
    title = fields.Text(index=True)
    status = fields.Text(choices=["draft", "live"], default="draft")
    author = fields.ForeignKey(Tag, nullable=True)
    tags = fields.ManyToMany(Tag)
"""


def _names(url: str, table: str) -> list[str]:
    """Every index and constraint of ``table`` (the primary key's included)."""
    if _backend(url) == "sqlite":
        return [
            r[0]
            for r in rows(
                url,
                f"SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = '{table}' "
                "AND sql IS NOT NULL ORDER BY name",
            )
        ]
    if _backend(url) == "mysql":
        return [
            r[0]
            for r in rows(
                url,
                "SELECT CONSTRAINT_NAME FROM information_schema.TABLE_CONSTRAINTS "
                f"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{table}' UNION "
                "SELECT INDEX_NAME FROM information_schema.STATISTICS "
                f"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{table}' ORDER BY 1",
            )
        ]
    return [
        r[0]
        for r in rows(
            url,
            f"SELECT conname FROM pg_constraint WHERE conrelid = '{table}'::regclass UNION "
            f"SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = '{table}'::regclass "
            "ORDER BY 1",
        )
    ]


def test_a_renamed_table_takes_the_names_umbral_gave_its_indexes_and_constraints(
    any_project: Project,
    request: pytest.FixtureRequest,
) -> None:
    p, url = any_project, any_project.database
    p.models(BLOG.format(options="", more=""))
    _migrate(p)
    execute(
        url,
        "INSERT INTO tag (name) VALUES ('x'), ('y')",
        "INSERT INTO post (title, author) VALUES ('one', 1), ('two', 2)",
        "INSERT INTO post_tags (parent_id, child_id) VALUES (1, 1), (1, 2), (2, 2)",
    )
    p.models(BLOG.format(options=', table="article"', more=""))

    _migrate(p)

    names = {t: _names(url, t) for t in ("article", "article_tags")}
    assert names["article"] and names["article_tags"]
    for table, found in names.items():
        assert all(n.split("_", 1)[1].startswith(table) for n in found if n.startswith("idx_")), (
            found
        )
        assert not [n for n in found if "post" in n], found
    assert rows(url, "SELECT parent_id, child_id FROM article_tags ORDER BY 1, 2") == [
        (1, 1),
        (1, 2),
        (2, 2),
    ]
    # The old names are free: a new model may take them.
    p.models(BLOG.format(options=', table="article"', more=ENTRY))
    _migrate(p)
    assert "idx_post_tags_child_id" in _names(url, "post_tags")


# -- the actions of an adopted foreign key -------------------------------------------------

#: Another tool's schema: a named table constraint with ON DELETE CASCADE, and Django's way of
#: writing a foreign key (SQLite: inline and deferred; PostgreSQL: a hash-named constraint).
STOCK = {
    "sqlite": [
        "CREATE TABLE product (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE owner (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        'CREATE TABLE stock (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL, "product_id" '
        'integer NOT NULL, "owner_id" integer NULL REFERENCES "owner" ("id") DEFERRABLE '
        "INITIALLY DEFERRED, CONSTRAINT fk_stock_product FOREIGN KEY (product_id) "
        "REFERENCES product (id) ON DELETE CASCADE)",
    ],
    "postgres": [
        "CREATE TABLE product (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE owner (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE stock (id BIGSERIAL PRIMARY KEY, qty INTEGER NOT NULL, "
        "product_id BIGINT NOT NULL, owner_id BIGINT NULL, "
        "CONSTRAINT fk_stock_product FOREIGN KEY (product_id) REFERENCES product (id) "
        "ON DELETE CASCADE, CONSTRAINT stock_owner_id_7f3a9c1e_fk_owner_id FOREIGN KEY "
        "(owner_id) REFERENCES owner (id) DEFERRABLE INITIALLY DEFERRED)",
        "CREATE INDEX stock_product_id_4b1a ON stock (product_id)",
        "CREATE INDEX stock_owner_id_9c2d ON stock (owner_id)",
    ],
    # Django's MySQL backend: hash-named constraints (MySQL has no deferred foreign keys).
    "mysql": [
        "CREATE TABLE product (id BIGINT AUTO_INCREMENT PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE owner (id BIGINT AUTO_INCREMENT PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE stock (id BIGINT AUTO_INCREMENT PRIMARY KEY, qty INTEGER NOT NULL, "
        "product_id BIGINT NOT NULL, owner_id BIGINT NULL, "
        "CONSTRAINT fk_stock_product FOREIGN KEY (product_id) REFERENCES product (id) "
        "ON DELETE CASCADE, CONSTRAINT stock_owner_id_7f3a9c1e_fk_owner_id FOREIGN KEY "
        "(owner_id) REFERENCES owner (id))",
    ],
}
#: How the catalog reports a foreign key declared without an action (InnoDB: RESTRICT).
NO_ACTION = {"sqlite": "NO ACTION", "postgres": "NO ACTION", "mysql": "RESTRICT"}
STOCK_ROWS = [
    "INSERT INTO product (name) VALUES ('bolt'), ('nut')",
    "INSERT INTO owner (name) VALUES ('ann'), ('bob')",
    "INSERT INTO stock (qty, product_id, owner_id) VALUES (5, 1, 1), (3, 2, 2), (0, 1, NULL)",
]


def _foreign_keys(url: str, table: str) -> list[tuple[str, str, str]]:
    """(column, referenced table, ON DELETE action) of every foreign key of ``table``."""
    if _backend(url) == "sqlite":
        found = rows(url, f"PRAGMA foreign_key_list({table})")
        return sorted((r[3], r[2], r[6]) for r in found)
    if _backend(url) == "mysql":
        found = rows(
            url,
            "SELECT k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, r.DELETE_RULE "
            "FROM information_schema.KEY_COLUMN_USAGE k "
            "JOIN information_schema.REFERENTIAL_CONSTRAINTS r "
            "ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA "
            "AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME "
            f"WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME = '{table}' "
            "AND k.REFERENCED_TABLE_NAME IS NOT NULL",
        )
        return sorted((col, ref, action) for col, ref, action in found)
    actions = {
        "a": "NO ACTION",
        "r": "RESTRICT",
        "c": "CASCADE",
        "n": "SET NULL",
        "d": "SET DEFAULT",
    }
    found = rows(
        url,
        "SELECT a.attname, c.confrelid::regclass::text, c.confdeltype FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) "
        f"WHERE c.conrelid = '{table}'::regclass AND c.contype = 'f'",
    )
    return sorted((col, ref, actions[action]) for col, ref, action in found)


def _transaction(url: str, *statements: str) -> str | None:
    """Run ``statements`` in one transaction with foreign keys enforced; the error, if any
    (nothing is kept then)."""
    if _backend(url) == "sqlite":
        conn = sqlite3.connect(sqlite_path(url), isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("BEGIN")
            try:
                for s in statements:
                    conn.execute(s)
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                return str(exc)
        finally:
            conn.close()
        return None
    if _backend(url) == "mysql":
        import pymysql

        conn = _mysql_connect(url)
        try:
            try:
                conn.begin()
                for s in statements:
                    conn.cursor().execute(s)
                conn.commit()
            except pymysql.Error as exc:
                conn.rollback()
                return str(exc)
        finally:
            conn.close()
        return None
    import psycopg

    try:
        with psycopg.connect(url) as conn:  # one transaction, committed on leaving
            for s in statements:
                conn.execute(s)
    except psycopg.Error as exc:
        return str(exc)
    return None


def test_changing_an_adopted_foreign_keys_actions_replaces_its_constraint(
    any_project: Project,
) -> None:
    p, url = any_project, any_project.database
    models = _adopt(p, *STOCK[_backend(url)], *STOCK_ROWS)
    assert 'product_id = fields.ForeignKey(Product, on_delete="cascade")' in models
    before = rows(url, "SELECT id, qty, product_id, owner_id FROM stock ORDER BY id")
    _edit(p, 'Product, on_delete="cascade"', 'Product, on_delete="restrict"')
    _edit(p, "Owner, nullable=True", 'Owner, nullable=True, on_delete="set_null"')

    _migrate(p)

    stock = "SELECT id, qty, product_id, owner_id FROM stock ORDER BY id"
    assert rows(url, stock) == before
    # Exactly one foreign key per column, with the model's action.
    assert _foreign_keys(url, "stock") == [
        ("owner_id", "owner", "SET NULL"),
        ("product_id", "product", "RESTRICT"),
    ]
    # The old CASCADE no longer fires: deleting a product that has stock is refused.
    error = _transaction(url, "DELETE FROM product WHERE id = 2")
    assert error is not None and "foreign key" in error.lower(), error
    assert rows(url, stock) == before
    # The new action does: an owner's stock is kept, without its owner.
    assert _transaction(url, "DELETE FROM owner WHERE id = 2") is None
    assert rows(url, stock) == [before[0], (2, 3, 2, None), before[2]]
    # Still deferred, as the other tool made it: a row may point at an owner the same
    # transaction inserts later (MySQL and MariaDB have no deferred foreign keys).
    deferred = _backend(url) != "mysql"
    assert (
        _transaction(
            url,
            "INSERT INTO stock (qty, product_id, owner_id) VALUES (1, 1, 7)",
            "INSERT INTO owner (id, name) VALUES (7, 'late')",
        )
        is None
    ) or not deferred
    assert len(_indexes_on(url, "stock", ("product_id",))) == 1
    assert len(_indexes_on(url, "stock", ("owner_id",))) == 1
    # And a later rebuild or change keeps all of it.
    _edit(p, "qty = fields.Integer()", "qty = fields.BigInt()")
    _migrate(p)
    assert _foreign_keys(url, "stock") == [
        ("owner_id", "owner", "SET NULL"),
        ("product_id", "product", "RESTRICT"),
    ]
    assert (
        _transaction(
            url,
            "INSERT INTO stock (qty, product_id, owner_id) VALUES (1, 1, 8)",
            "INSERT INTO owner (id, name) VALUES (8, 'later')",
        )
        is None
    ) or not deferred
    # Undone, the table has the actions it was adopted with, one foreign key each.
    r = p.run("migrate", "app/0001_initial")
    assert r.code == 0, r
    assert _foreign_keys(url, "stock") == [
        ("owner_id", "owner", NO_ACTION[_backend(url)]),
        ("product_id", "product", "CASCADE"),
    ]
    assert (
        _transaction(
            url,
            "INSERT INTO stock (qty, product_id, owner_id) VALUES (1, 1, 9)",
            "INSERT INTO owner (id, name) VALUES (9, 'last')",
        )
        is None
    ) or not deferred


def test_an_adopted_deferred_foreign_key_moved_to_a_key_of_another_type_stays_deferred(
    any_project: Project,
) -> None:
    """PostgreSQL drops the old key before the column changes type (BIGINT to TEXT) and adds
    the new one after it: the new key is ``DEFERRABLE`` as the dropped one was, both ways."""
    p, url = any_project, any_project.database
    _adopt(p, *STOCK[_backend(url)], *STOCK_ROWS)
    p.write(
        "models.py",
        (p.root / "models.py").read_text()
        + "\n\nclass Region(Model):\n    code = fields.Text(max_length=8, primary_key=True)\n",
    )
    _migrate(p)
    first = p.migration_files()[-1].removesuffix(".json")
    execute(url, "INSERT INTO region (code) VALUES ('1'), ('2')")
    _edit(p, "Owner, nullable=True", '"Region", nullable=True')
    _migrate(p)
    assert ("owner_id", "region", NO_ACTION[_backend(url)]) in _foreign_keys(url, "stock")
    assert rows(url, "SELECT owner_id FROM stock ORDER BY id") == [("1",), ("2",), (None,)]
    deferred = _backend(url) != "mysql"  # MySQL and MariaDB have no deferred foreign keys
    late = _transaction(
        url,
        "INSERT INTO stock (qty, product_id, owner_id) VALUES (1, 1, 'late')",
        "INSERT INTO region (code) VALUES ('late')",
    )
    assert late is None or not deferred, late
    execute(url, "DELETE FROM stock WHERE qty = 1", "DELETE FROM region WHERE code = 'late'")

    r = p.run("migrate", f"app/{first}")
    assert r.code == 0, r
    assert ("owner_id", "owner", NO_ACTION[_backend(url)]) in _foreign_keys(url, "stock")
    late = _transaction(
        url,
        "INSERT INTO stock (qty, product_id, owner_id) VALUES (1, 1, 9)",
        "INSERT INTO owner (id, name) VALUES (9, 'late')",
    )
    assert late is None or not deferred, late


# -- indexes and unique constraints of an adopted table -----------------------------------


def test_dropping_an_adopted_index_or_unique_drops_it_whatever_its_name(
    any_project: Project,
    request: pytest.FixtureRequest,
) -> None:
    """The models say the table no longer has an index on `title` or `code`, nor uniqueness on
    `isbn` or (`shelf`, `slot`): each goes, though none has umbral's name (`code`'s goes with a
    rebuild on SQLite, `title`'s without)."""
    p, url = any_project, any_project.database
    serial = SERIAL[backend_name(url)]
    models = _adopt(
        p,
        f"CREATE TABLE book (id {serial} PRIMARY KEY, title TEXT NOT NULL, code TEXT NOT NULL, "
        "isbn TEXT NOT NULL, shelf INTEGER NOT NULL, slot INTEGER NOT NULL, "
        "UNIQUE (shelf, slot))",
        "CREATE INDEX book_title_ix ON book (title)",
        "CREATE INDEX book_code_ix ON book (code)",
        "CREATE UNIQUE INDEX book_isbn_uq ON book (isbn)",
        "INSERT INTO book (title, code, isbn, shelf, slot) VALUES ('a', 'x', '1', 1, 1), "
        "('b', 'y', '2', 1, 2)",
    )
    assert 'unique_together=[("shelf", "slot")]' in models
    _edit(p, 'unique_together=[("shelf", "slot")]', "")
    _edit(p, "title = fields.Text(index=True)", "title = fields.Text()")
    _edit(p, "code = fields.Text(index=True)", "code = fields.Text(nullable=True)")
    _edit(p, "isbn = fields.Text(unique=True)", "isbn = fields.Text()")

    _migrate(p)

    assert schema_of(url)["book"]["indexes"] == []
    # Each uniqueness is gone too: duplicates go in.
    execute(url, "INSERT INTO book (title, code, isbn, shelf, slot) VALUES ('a', 'x', '1', 1, 1)")
    assert rows(url, "SELECT id, title, code, isbn, shelf, slot FROM book ORDER BY id") == [
        (1, "a", "x", "1", 1, 1),
        (2, "b", "y", "2", 1, 2),
        (3, "a", "x", "1", 1, 1),
    ]


def test_a_unique_constraint_of_an_adopted_table_definition_can_be_dropped(
    any_project: Project,
    request: pytest.FixtureRequest,
) -> None:
    """A UNIQUE constraint written in the table's definition (as SQLAlchemy and Alembic write
    one), removed on its own: SQLite rebuilds the table for it, and keeps the rest."""
    p, url = any_project, any_project.database
    serial = SERIAL[backend_name(url)]
    _adopt(
        p,
        f"CREATE TABLE seat (id {serial} PRIMARY KEY, row_no INTEGER NOT NULL, "
        "seat_no INTEGER NOT NULL, note TEXT, CONSTRAINT uq_seat_place UNIQUE (row_no, seat_no), "
        "CONSTRAINT seat_note_short CHECK (length(note) < 10))",
        "INSERT INTO seat (row_no, seat_no, note) VALUES (1, 1, 'a'), (1, 2, NULL)",
    )
    partial = _backend(url) != "mysql"  # MySQL and MariaDB have no partial index
    if partial:
        execute(url, "CREATE INDEX seat_note_part ON seat (note) WHERE note IS NOT NULL")  # by hand
    _edit(p, 'unique_together=[("row_no", "seat_no")]', "")

    _migrate(p)

    execute(url, "INSERT INTO seat (row_no, seat_no) VALUES (1, 1)")  # no longer unique
    assert rows(url, "SELECT id, row_no, seat_no, note FROM seat ORDER BY id") == [
        (1, 1, 1, "a"),
        (2, 1, 2, None),
        (3, 1, 1, None),
    ]
    # What the models do not describe stays: the CHECK, the partial index.
    named = (["seat_note_part"] if partial else []) + {
        "sqlite": [],
        "postgres": ["seat_note_short", "seat_pkey"],
        "mysql": ["PRIMARY", "seat_note_short"],
    }[_backend(url)]
    assert _names(url, "seat") == sorted(named)
    # MariaDB says "CONSTRAINT `seat_note_short` failed".
    with pytest.raises(Exception, match=r"(?i)check|seat_note_short"):
        execute(url, "INSERT INTO seat (row_no, seat_no, note) VALUES (2, 2, 'far too long')")


@pytest.mark.parametrize("rename", ["table", "column"])
def test_renaming_an_adopted_table_or_column_keeps_its_foreign_keys(
    any_project: Project, rename: str, request: pytest.FixtureRequest
) -> None:
    """Its constraints keep the names another tool gave them: nothing to rename, nothing that
    fails for want of umbral's name."""
    p, url = any_project, any_project.database
    _adopt(p, *STOCK[_backend(url)], *STOCK_ROWS)
    before = rows(url, "SELECT id, qty, product_id, owner_id FROM stock ORDER BY id")
    if rename == "table":
        _edit(p, "class Stock(Model", 'class Stock(Model, table="inventory"')
        table, column = "inventory", "product_id"
    else:
        _edit(p, "product_id = fields.ForeignKey(", "item = fields.ForeignKey(")
        table, column = "stock", "item"

    _migrate(p)

    assert rows(url, f"SELECT id, qty, {column}, owner_id FROM {table} ORDER BY id") == before
    assert _foreign_keys(url, table) == sorted(
        [("owner_id", "owner", NO_ACTION[_backend(url)]), (column, "product", "CASCADE")]
    )
