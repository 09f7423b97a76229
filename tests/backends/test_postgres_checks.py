"""Postgres safety rules through checkmigrations: the migration's operations reach the rules."""

from __future__ import annotations

import pytest

from conftest import Project

pytestmark = pytest.mark.postgres


def test_index_on_a_table_created_in_the_same_migration_is_not_a_lock_risk(
    tmp_path, postgres_url
) -> None:
    p = Project(tmp_path, postgres_url)
    p.write_config()
    p.models("class Post(Model):\n    title = fields.Text(index=True)\n")
    assert p.run("makemigrations").code == 0
    r = p.run("checkmigrations", "--strict")
    assert r.code == 0, r
    assert "PG INDEX LOCK" not in r.stdout
    assert r.out_lines[-1] == "All pending operations are safe for a rolling deploy."

    assert p.run("migrate").code == 0
    p.models(
        "class Post(Model):\n    title = fields.Text(index=True)\n"
        "    slug = fields.Text(nullable=True, index=True)\n"
    )
    assert p.run("makemigrations").code == 0
    r = p.run("checkmigrations", "--strict")
    assert r.code == 1, r
    assert "[PG INDEX LOCK] app/0002_add_post_slug:" in r.stdout
