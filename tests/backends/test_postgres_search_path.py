"""One project migrated into two schemas of one PostgreSQL database, chosen by the URL's
``search_path``: everything umbral creates (tables, views, indexes, the tracking table, the
migration lock) goes into the connection's current schema, never into ``public``."""

from __future__ import annotations

from pathlib import Path

import pytest
from pg_helpers import connect, query

from conftest import Project, execute, make_project
from umbral_postgres.connection import lock_key

pytestmark = pytest.mark.postgres

POST = """
class Post(Model):
    title = fields.Text(index=True)
    published = fields.Boolean(default=False)
"""

VIEW = """
class PublishedPost(Model, view="SELECT id, title FROM post WHERE published"):
    pass
"""


def in_schema(url: str, schema: str) -> str:
    return f"{url}?options=-csearch_path%3D{schema}"


def objects(url: str) -> list[tuple[str, str, str]]:
    """``(schema, kind, name)`` of every table, view and index outside the system schemas."""
    return [
        (s, k, n)
        for s, k, n in query(
            url,
            "SELECT n.nspname, c.relkind::text, c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'v', 'i') "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') "
            "ORDER BY 1, 2, 3",
        )
    ]


@pytest.fixture
def two_schemas(tmp_path: Path, postgres_url: str) -> Project:
    execute(postgres_url, "CREATE SCHEMA tenant1", "CREATE SCHEMA tenant2")
    return make_project(tmp_path, postgres_url)


def test_one_project_migrated_into_two_schemas(two_schemas: Project) -> None:
    p, url = two_schemas, two_schemas.database
    p.models(POST + VIEW)
    assert p.run("makemigrations").code == 0
    for schema in ("tenant1", "tenant2"):
        r = p.run("migrate", "--database", in_schema(url, schema))
        assert r.code == 0, r
        assert r.out_lines == ["Applied 1 migration(s)"]

    per_schema = [
        ("i", "idx_post_title"),
        ("i", "post_pkey"),
        ("i", "umbral_migrations_pkey"),
        ("r", "post"),
        ("r", "umbral_migrations"),
        ("v", "published_post"),
    ]
    assert objects(url) == [("tenant1", k, n) for k, n in per_schema] + [
        ("tenant2", k, n) for k, n in per_schema
    ]
    execute(
        url,
        "INSERT INTO tenant1.post (title, published) VALUES ('one', TRUE)",
        "INSERT INTO tenant2.post (title, published) VALUES ('two', TRUE), ('draft', FALSE)",
    )
    assert query(url, "SELECT title FROM tenant1.published_post") == [("one",)]
    assert query(url, "SELECT title FROM tenant2.published_post") == [("two",)]

    # A change to the table the view reads re-creates the view in each schema.
    p.models(POST.replace("Text(index=True)", "Text(index=True, nullable=True)") + VIEW)
    assert p.run("makemigrations").code == 0
    for schema in ("tenant1", "tenant2"):
        r = p.run("migrate", "--database", in_schema(url, schema))
        assert r.code == 0, r
        r = p.run("showmigrations", "--database", in_schema(url, schema))
        assert r.out_lines == ["# plugin: app", "[X] app/0001_initial", "[X] app/0002_auto"], r
    assert query(url, "SELECT title FROM tenant2.published_post") == [("two",)]

    # Unapplying everything in one schema leaves the other one whole.
    r = p.run("migrate", "app/zero", "--allow-destructive", "--database", in_schema(url, "tenant1"))
    assert r.code == 0, r
    assert [o for o in objects(url) if o[0] == "tenant1"] == [
        ("tenant1", "i", "umbral_migrations_pkey"),
        ("tenant1", "r", "umbral_migrations"),
    ]
    assert [(k, n) for s, k, n in objects(url) if s == "tenant2"] == per_schema
    assert query(url, "SELECT count(*) FROM tenant2.post") == [(2,)]


def test_each_schema_has_its_own_migration_lock(two_schemas: Project) -> None:
    p, url = two_schemas, two_schemas.database
    p.models(POST)
    assert p.run("makemigrations").code == 0
    with connect(url, autocommit=True) as holder:
        got = holder.execute("SELECT pg_try_advisory_lock(%s)", (lock_key("tenant1"),))
        assert got.fetchone() == (True,)
        # A run into tenant2 does not wait for tenant1's ...
        r = p.run("migrate", "--lock-wait", "0", "--database", in_schema(url, "tenant2"))
        assert r.code == 0, r
        # ... and a run into tenant1 does.
        r = p.run("migrate", "--lock-wait", "0", "--database", in_schema(url, "tenant1"))
        assert r.code == 1, r
        assert "waiting for the migration lock" in r.stderr
    assert query(url, "SELECT count(*) FROM tenant2.umbral_migrations") == [(1,)]
    assert query(url, "SELECT to_regclass('tenant1.post')") == [(None,)]


def test_a_search_path_naming_no_existing_schema_is_refused_up_front(two_schemas: Project) -> None:
    p, url = two_schemas, two_schemas.database
    p.models(POST)
    assert p.run("makemigrations").code == 0
    before = objects(url)
    r = p.run("migrate", "--database", in_schema(url, "nope"))
    assert (r.code, r.out_lines) == (1, []), r
    assert r.err_lines == [
        "error: umbral migrate: no schema on the database's search_path (nope) exists, so "
        "there is nowhere to create tables; create the schema first (CREATE SCHEMA ...) or "
        "name an existing one in the URL's search_path"
    ]
    assert objects(url) == before
