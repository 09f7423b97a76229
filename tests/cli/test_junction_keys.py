"""A junction's key columns follow a type change of the primary key each holds.

``Integer`` to ``BigInt`` on a primary key a ``ManyToMany`` holds: the foreign-key columns
followed it, but the junction's ``child_id`` (a target of another plugin) or ``parent_id`` and
``child_id`` (models of one plugin, on SQLite) kept the old type: on PostgreSQL a key past
INT's range could not be linked, and the migrated schema differed from a database built from
the same files, with no drift said. ``checkschema`` now compares a junction's key columns too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from schema_dump import dump

from conftest import Project, backend_name, execute, rows

BIG = 3000000000

PEOPLE = """
from umbral import Model, fields, hookimpl


class Author(Model, plugin="people"):
    code = fields.{key}(primary_key=True)
    name = fields.Text(max_length=20)


@hookimpl
def umbral_models():
    return [Author]
"""

POSTS = """
class Post(Model):
    id = fields.{key}(primary_key=True)
    title = fields.Text(max_length=20)
    author = fields.ForeignKey("people.Author", on_delete="cascade")
    readers = fields.ManyToMany("people.Author")
"""

TAGS = """
class Tag(Model):
    id = fields.{key}(primary_key=True)
    name = fields.Text(max_length=20)

class Item(Model):
    id = fields.{key}(primary_key=True)
    tags = fields.ManyToMany("Tag")
"""


def _cross_plugin(p: Project, key: str) -> None:
    p.write_config(plugins=["people"], plugin_modules={"people": "people"})
    p.write("people.py", PEOPLE.format(key=key))
    p.models(POSTS.format(key="BigInt"))


def _same_as_fresh(p: Project, url: str, fresh: str, junction: str) -> None:
    """The migrated database's schema is the one ``migrate`` builds from the same files on an
    empty database, the junction's included."""
    r = p.run("migrate", "--database", fresh)
    assert r.code == 0, r
    migrated, built = dump(url), dump(fresh)
    assert migrated[junction] == built[junction]
    assert migrated == built


def test_a_junction_to_another_plugins_key_follows_its_widening(
    any_project: Project, scratch_url: str
) -> None:
    p, url = any_project, any_project.database
    _cross_plugin(p, "Integer")
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(
        url,
        "INSERT INTO people_author (code, name) VALUES (1, 'a'), (2, 'b')",
        "INSERT INTO post (id, title, author) VALUES (1, 'p', 1)",
        "INSERT INTO post_readers (parent_id, child_id) VALUES (1, 1), (1, 2)",
    )
    links = "SELECT parent_id, child_id FROM post_readers ORDER BY 1, 2"
    p.write("people.py", PEOPLE.format(key="BigInt"))
    r = p.run("makemigrations")
    assert r.code == 0, r
    ops = p.load_migration("app", p.migration_files()[-1])["operations"]
    assert {"kind": "AlterM2MKey", "table": "post_readers", "column": "child_id",
            "key_table": "people_author", "from": "Integer", "to": "BigInt"} in ops  # fmt: skip
    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(url, links) == [(1, 1), (1, 2)]
    assert p.run("checkschema").code == 0
    _same_as_fresh(p, url, scratch_url, "post_readers")
    # A key past INT's range is linked (PostgreSQL: "integer out of range" before).
    execute(
        url,
        f"INSERT INTO people_author (code, name) VALUES ({BIG}, 'big')",
        f"INSERT INTO post_readers (parent_id, child_id) VALUES (1, {BIG})",
    )
    assert rows(url, links) == [(1, 1), (1, 2), (1, BIG)]
    # And back: the junction takes the old type again, its links kept.
    execute(
        url,
        f"DELETE FROM post_readers WHERE child_id = {BIG}",
        f"DELETE FROM people_author WHERE code = {BIG}",
    )
    first = p.migration_files("people")[0].removesuffix(".json")
    r = p.run("migrate", f"people/{first}")
    assert r.code == 0, r
    assert rows(url, links) == [(1, 1), (1, 2)]
    assert p.run("checkschema").code == 0


def test_a_junction_within_one_plugin_follows_both_keys(
    any_project: Project, scratch_url: str
) -> None:
    p, url = any_project, any_project.database
    p.models(TAGS.format(key="Integer"))
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(
        url,
        "INSERT INTO tag (id, name) VALUES (1, 'a'), (2, 'b')",
        "INSERT INTO item (id) VALUES (1)",
        "INSERT INTO item_tags (parent_id, child_id) VALUES (1, 1), (1, 2)",
    )
    links = "SELECT parent_id, child_id FROM item_tags ORDER BY 1, 2"
    p.models(TAGS.format(key="BigInt"))
    r = p.run("makemigrations")
    assert r.code == 0, r
    ops = p.load_migration("app", p.migration_files()[-1])["operations"]
    assert sorted(op["column"] for op in ops if op["kind"] == "AlterM2MKey") == [
        "child_id",
        "parent_id",
    ]
    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(url, links) == [(1, 1), (1, 2)]
    assert p.run("checkschema").code == 0
    _same_as_fresh(p, url, scratch_url, "item_tags")
    execute(
        url,
        f"INSERT INTO tag (id, name) VALUES ({BIG}, 'c')",
        f"INSERT INTO item (id) VALUES ({BIG + 1})",
        f"INSERT INTO item_tags (parent_id, child_id) VALUES ({BIG + 1}, {BIG})",
    )
    assert len(rows(url, links)) == 3
    if backend_name(url) == "sqlite":  # the rebuilt junction keeps its keys' cascades
        execute(url, "PRAGMA foreign_keys = ON", f"DELETE FROM tag WHERE id = {BIG}")
    else:
        execute(url, f"DELETE FROM tag WHERE id = {BIG}")
    assert rows(url, links) == [(1, 1), (1, 2)]


def test_a_rebuilt_sqlite_junction_keeps_its_trigger_and_hand_made_index(
    project: Project,
) -> None:
    """SQLite rebuilds a junction to change its key's type, as it rebuilds a table: a trigger
    and an index added by hand on the junction are made again after the swap (they were
    dropped with the old junction)."""
    p, url = project, project.database
    p.models(TAGS.format(key="Integer"))
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(
        url,
        "CREATE TABLE tag_log (tag INTEGER)",
        "CREATE TRIGGER item_tags_log AFTER INSERT ON item_tags "
        "BEGIN INSERT INTO tag_log VALUES (new.child_id); END",
        "CREATE INDEX item_tags_both ON item_tags (child_id, parent_id)",
        "INSERT INTO tag (id, name) VALUES (1, 'a')",
        "INSERT INTO item (id) VALUES (1)",
        "INSERT INTO item_tags (parent_id, child_id) VALUES (1, 1)",
    )
    p.models(TAGS.format(key="BigInt"))
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(url, "SELECT name FROM sqlite_master WHERE tbl_name = 'item_tags' ORDER BY 1") == [
        ("idx_item_tags_child_id",), ("item_tags",), ("item_tags_both",), ("item_tags_log",),
        ("sqlite_autoindex_item_tags_1",),
    ]  # fmt: skip
    execute(url, f"INSERT INTO tag (id, name) VALUES ({BIG}, 'b')",
            f"INSERT INTO item_tags (parent_id, child_id) VALUES (1, {BIG})")  # fmt: skip
    assert rows(url, "SELECT tag FROM tag_log ORDER BY 1") == [(1,), (BIG,)]
    assert p.run("checkschema").code == 0


@pytest.mark.postgres
def test_a_junction_key_narrower_than_its_key_is_drift_with_a_repair(
    postgres_url: str, tmp_path: Path
) -> None:
    """A junction altered by hand (or left narrow by a migration made before its key columns
    followed the key) showed no drift."""
    import psycopg

    from conftest import _libpq, make_project

    p = make_project(tmp_path, postgres_url)
    _cross_plugin(p, "BigInt")
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(postgres_url, "ALTER TABLE post_readers ALTER COLUMN child_id TYPE integer")
    r = p.run("checkschema")
    assert r.code == 1, r
    first = p.migration_files()[0].removesuffix(".json")
    assert (
        f"~ post_readers.child_id: type BigInt in app/{first} (the type of people_author's "
        "primary key), integer in the database"
    ) in r.out_lines, r
    sql = p.run("checkschema", "--sql")
    assert 'ALTER TABLE "post_readers" ALTER COLUMN "child_id" TYPE BIGINT' in sql.stdout, sql
    with psycopg.connect(_libpq(postgres_url), autocommit=True) as conn:
        conn.execute(sql.stdout)
    assert p.run("checkschema").code == 0


def test_a_junction_key_of_another_type_is_drift_repaired_on_sqlite(project: Project) -> None:
    """SQLite reads any integer type as any other, but not a key of another kind: the repair
    makes the junction again with its key's type, its links kept (the repair had no junction
    to find in the live tables, and could not be rendered)."""
    import sqlite3

    from conftest import sqlite_path

    p, url = project, project.database
    p.write_config(plugins=["people"], plugin_modules={"people": "people"})
    p.write("people.py", PEOPLE.format(key="Uuid"))
    p.models(POSTS.format(key="BigInt"))
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(
        url,
        "INSERT INTO people_author (code, name) VALUES ('u1', 'a')",
        "INSERT INTO post (id, title, author) VALUES (1, 'p', 'u1')",
        "INSERT INTO post_readers (parent_id, child_id) VALUES (1, 'u1')",
        "ALTER TABLE post_readers RENAME TO old_readers",
        "CREATE TABLE post_readers (parent_id BIGINT NOT NULL REFERENCES post (id) ON DELETE "
        "CASCADE, child_id TEXT NOT NULL REFERENCES people_author (code) ON DELETE CASCADE, "
        "PRIMARY KEY (parent_id, child_id))",
        "INSERT INTO post_readers SELECT * FROM old_readers",
        "DROP TABLE old_readers",
        "CREATE INDEX idx_post_readers_child_id ON post_readers (child_id)",
    )
    r = p.run("checkschema")
    assert r.code == 1, r
    first = p.migration_files()[0].removesuffix(".json")
    assert r.out_lines[1] == (
        f"~ post_readers.child_id: type Uuid in app/{first} (the type of people_author's "
        "primary key), TEXT in the database"
    ), r
    sql = p.run("checkschema", "--sql")
    assert "UUID NOT NULL" in sql.stdout, sql
    conn = sqlite3.connect(sqlite_path(url))
    try:
        conn.executescript(sql.stdout)
    finally:
        conn.close()
    assert p.run("checkschema").code == 0
    assert rows(url, "SELECT parent_id, child_id FROM post_readers") == [(1, "u1")]
