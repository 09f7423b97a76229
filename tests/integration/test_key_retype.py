"""Keys and indexes across a column's type change.

A primary key's type changed while foreign keys reference it (``Integer`` to ``BigInt``, the
widening every growing table needs): MySQL and MariaDB refuse to change a referenced column
(error 1833, with the checks off too) and a key between two integer types (error 150), and the
migration failed part way, the key of the first referencing table already dropped. A column of
an index of several columns made unbounded text: MySQL refused the key over it (error 1071).
Every backend now makes the change, keeps every row, key and index, and goes back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schema_dump

from conftest import Project, backend_name, execute, fresh_schema, rows, schema_of

MODELS = """
class City(Model):
    country = fields.ForeignKey("Country", on_delete="cascade")
    name = fields.Text(max_length=50)

class Country(Model):
    num = fields.{key}(primary_key=True)
    name = fields.Text(max_length=50)

class Zone(Model):
    country = fields.ForeignKey("Country", nullable=True, on_delete="set_null")
"""


def _keys(url: str) -> list[tuple]:
    """Each table's foreign keys: (table, columns, target)."""
    return sorted((t, *fk) for t, info in schema_of(url).items() for fk in info["fks"])


def test_a_referenced_primary_key_is_widened_and_back(any_project: Project) -> None:
    # City's table sorts before Country's and Zone's after: the key columns change on both
    # sides of the key's own change.
    p, url = any_project, any_project.database
    p.models(MODELS.format(key="Integer"))
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(
        url,
        "INSERT INTO country (num, name) VALUES (1, 'a'), (2, 'b')",
        "INSERT INTO city (country, name) VALUES (1, 'x'), (2, 'y')",
        "INSERT INTO zone (country) VALUES (2), (NULL)",
    )
    keys = _keys(url)
    assert len(keys) == 2, keys
    data = "SELECT c.name, k.name, z.id FROM city c JOIN country k ON k.num = c.country " \
        "LEFT JOIN zone z ON z.country = k.num ORDER BY c.name"  # fmt: skip
    before = rows(url, data)
    p.models(MODELS.format(key="BigInt"))
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(url, data) == before
    assert _keys(url) == keys
    r = p.run("checkschema")
    assert r.code == 0, r
    # The keys hold: a value past INT's range goes in, and a delete cascades.
    execute(url, "INSERT INTO country (num, name) VALUES (5000000000, 'big')",
            "INSERT INTO city (country, name) VALUES (5000000000, 'z')")  # fmt: skip
    cascade = "DELETE FROM country WHERE num = 5000000000"
    if backend_name(url) == "sqlite":
        execute(url, "PRAGMA foreign_keys = ON", cascade)  # one connection
    else:
        execute(url, cascade)
    assert rows(url, "SELECT count(*) FROM city") == [(2,)]
    first = p.migration_files()[0].removesuffix(".json")
    r = p.run("migrate", f"app/{first}")
    assert r.code == 0, r
    assert rows(url, data) == before
    assert _keys(url) == keys
    r = p.run("checkschema")
    assert r.code == 0, r
    if backend_name(url) == "mysql":
        # sqlmigrate's script, run by hand, makes the same change (it failed adding a key
        # back while its column was still INT).
        from umbral_mysql.script import split_mysql_sql

        second = p.migration_files()[1].removesuffix(".json")
        execute(url, *split_mysql_sql(p.run("sqlmigrate", f"app/{second}").stdout))
        assert _keys(url) == keys
        assert rows(url, data) == before


@pytest.mark.mysql
def test_a_key_the_models_do_not_hold_follows_the_change(tmp_path: Path, mysql_url: str) -> None:
    """A table of no model references the key: its column takes the new type, and its key
    (under its own name and actions) comes back; the change refused it before, and it could
    not be applied when another plugin's model held the key."""
    from conftest import make_project

    p = make_project(tmp_path, mysql_url)
    p.models(MODELS.format(key="Integer"))
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(
        mysql_url,
        "CREATE TABLE legacy (id INT PRIMARY KEY, country INT NULL DEFAULT 1, CONSTRAINT "
        "legacy_country_fk FOREIGN KEY (country) REFERENCES country (num) ON DELETE CASCADE)",
        "INSERT INTO country (num, name) VALUES (1, 'a')",
        "INSERT INTO legacy (id, country) VALUES (7, 1)",
    )
    p.models(MODELS.format(key="BigInt"))
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    assert ("legacy", ("country",), "country") in _keys(mysql_url)
    column = (
        "SELECT column_type, is_nullable, column_default FROM information_schema.columns "
        "WHERE table_schema = DATABASE() AND table_name = 'legacy' AND column_name = 'country'"
    )
    assert rows(mysql_url, column)[0][:2] in (("bigint(20)", "YES"), ("bigint", "YES"))
    execute(mysql_url, "DELETE FROM country WHERE num = 1")  # its ON DELETE CASCADE kept
    assert rows(mysql_url, "SELECT count(*) FROM legacy") == [(0,)]


M2M_MODELS = """
class Category(Model):
    id = fields.{key}(primary_key=True)
    name = fields.Text(max_length=20)

class Product(Model):
    id = fields.{key}(primary_key=True)
    cats = fields.ManyToMany("Category")
"""


def test_a_widened_key_keeps_the_links_of_its_junctions(any_project: Project) -> None:
    """The junction of a ManyToMany to the key was dropped and made again (every link lost;
    refused as destructive), and one from it kept a column of the old type (no drift said,
    and a key past INT's range could not be linked)."""
    p, url = any_project, any_project.database
    p.models(M2M_MODELS.format(key="Integer"))
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(
        url,
        "INSERT INTO category (id, name) VALUES (1, 'a'), (2, 'b')",
        "INSERT INTO product (id) VALUES (1)",
        "INSERT INTO product_cats (parent_id, child_id) VALUES (1, 1), (1, 2)",
    )
    links = "SELECT parent_id, child_id FROM product_cats ORDER BY 1, 2"
    p.models(M2M_MODELS.format(key="BigInt"))
    r = p.run("makemigrations")
    assert r.code == 0, r
    kinds = [op["kind"] for op in p.load_migration("app", p.migration_files()[-1])["operations"]]
    assert not {"CreateM2MTable", "DropM2MTable"} & set(kinds), kinds
    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(url, links) == [(1, 1), (1, 2)]
    execute(
        url,
        "INSERT INTO category (id, name) VALUES (5000000000, 'c')",
        "INSERT INTO product (id) VALUES (6000000000)",
        "INSERT INTO product_cats (parent_id, child_id) VALUES (6000000000, 5000000000)",
    )
    assert len(rows(url, links)) == 3
    assert p.run("checkschema").code == 0


INDEXED = """
class Post(Model, indexes=[("status", "headline")], unique_together=[("headline", "status")]):
    status = fields.Text(max_length=20)
    headline = fields.Text({length})
    body = fields.Text({length}index=True)
"""


def test_a_column_in_indexes_becomes_unbounded_text_and_back(any_project: Project) -> None:
    """MySQL refused to make a column of a key of several columns LONGTEXT (error 1071): the
    migration could never apply. Its indexes are made again over the new type."""
    p, url = any_project, any_project.database
    p.models(INDEXED.format(length="max_length=100, "))
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(
        url, "INSERT INTO post (status, headline, body) VALUES ('a', 'b', 'c'), ('a', 'x', 'y')"
    )
    data = "SELECT status, headline, body FROM post ORDER BY id"
    before = rows(url, data)
    indexes = sorted((cols, unique) for _, cols, unique in schema_of(url)["post"]["indexes"])
    p.models(INDEXED.format(length=""))
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(url, data) == before
    assert sorted((c, u) for _, c, u in schema_of(url)["post"]["indexes"]) == indexes
    assert p.run("checkschema").code == 0
    first = p.migration_files()[0].removesuffix(".json")
    r = p.run("migrate", f"app/{first}")
    assert r.code == 0, r
    assert rows(url, data) == before
    assert p.run("checkschema").code == 0
    if backend_name(url) == "mysql":
        # sqlmigrate's script, run by hand, makes the same change (it failed at its MODIFY).
        from umbral_mysql.script import split_mysql_sql

        second = p.migration_files()[1].removesuffix(".json")
        script = p.run("sqlmigrate", f"app/{second}").stdout
        execute(url, *split_mysql_sql(script))
        assert sorted((c, u) for _, c, u in schema_of(url)["post"]["indexes"]) == indexes


TEXT_KEY = """
class Author(Model):
{key}    name = fields.Text(max_length=20)

class Book(Model):
    title = fields.Text(max_length=20)
    author = fields.ForeignKey("Author", on_delete="cascade")
    readers = fields.ManyToMany("Author")
"""


def test_an_identity_key_becomes_text_and_back(
    any_project: Project, scratch_url: str, tmp_path: Path
) -> None:
    """The implicit identity ``id`` made ``Text(primary_key=True)``: PostgreSQL refused to
    change the type of an identity column (and a foreign key between ``bigint`` and
    ``text``), and the migration could never apply. The key loses its identity, the columns
    referencing it (a model's, a junction's) follow, and the schema is a fresh build's; back,
    the identity returns and numbers new rows after the existing ones."""
    p, url = any_project, any_project.database
    p.models(TEXT_KEY.format(key=""))
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    start = schema_dump.dump(url)
    execute(
        url,
        "INSERT INTO author (name) VALUES ('a'), ('b')",
        "INSERT INTO book (title, author) VALUES ('p', 1)",
        "INSERT INTO book_readers (parent_id, child_id) VALUES (1, 2)",
    )
    data = (
        "SELECT a.id, a.name, b.title, r.parent_id FROM author a "
        "LEFT JOIN book b ON b.author = a.id LEFT JOIN book_readers r ON r.child_id = a.id "
        "ORDER BY a.name"
    )
    p.models(TEXT_KEY.format(key="    id = fields.Text(primary_key=True)\n"))
    r = p.run("makemigrations")
    assert r.code == 0, r
    r = p.run("migrate")
    assert r.code == 0, r
    assert [tuple(str(v) for v in row) for row in rows(url, data)] == [
        ("1", "a", "p", "None"),
        ("2", "b", "None", "1"),
    ]
    migrated = schema_dump.dump(url)
    fresh = fresh_schema(
        tmp_path, scratch_url, TEXT_KEY.format(key="    id = fields.Text(primary_key=True)\n")
    )
    assert migrated == fresh  # the junction's key column too (AlterM2MKey)
    r = p.run("checkschema")
    assert r.code == 0, r.stdout
    first = p.migration_files()[0].removesuffix(".json")
    r = p.run("migrate", f"app/{first}")
    assert r.code == 0, r
    assert [tuple(str(v) for v in row) for row in rows(url, data)] == [
        ("1", "a", "p", "None"),
        ("2", "b", "None", "1"),
    ]
    assert schema_dump.dump(url) == start
    assert p.run("checkschema").code == 0
    execute(url, "INSERT INTO author (name) VALUES ('c')")
    assert rows(url, "SELECT id FROM author WHERE name = 'c'") == [(3,)]
