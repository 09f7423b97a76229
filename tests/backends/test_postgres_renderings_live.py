"""PostgreSQL renderings that ``test_postgres_render.py`` checks as strings, run on the server
through the CLI from a model change: a BigInt becoming a ForeignKey, a ``max_length`` widening,
an ``auto_now_add`` column added to a table with rows, and a help text cleared."""

from __future__ import annotations

from pathlib import Path

import pytest
from pg_helpers import columns, comment, constraints, indexes, query

from conftest import Project, execute, make_project

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(tmp_path: Path, postgres_url: str) -> Project:
    return make_project(tmp_path, postgres_url)


def _step(p: Project, models: str, *flags: str) -> None:
    p.models(models)
    r = p.run("makemigrations")
    assert r.code == 0, r
    r = p.run("migrate", *flags)
    assert r.code == 0, r


AUTHOR = "class Author(Model):\n    name = fields.Text()\n\n"


def test_bigint_becomes_a_foreign_key(pg: Project) -> None:
    p, url = pg, pg.database
    _step(p, AUTHOR + "class Post(Model):\n    author = fields.BigInt()\n")
    execute(url, "INSERT INTO author (name) VALUES ('ann')", "INSERT INTO post (author) VALUES (1)")
    _step(p, AUTHOR + "class Post(Model):\n    author = fields.ForeignKey('Author')\n")
    fks = {k: v for k, v in constraints(url, "post").items() if v.startswith("FOREIGN KEY")}
    assert list(fks.values()) == ["FOREIGN KEY (author) REFERENCES author(id)"], fks
    assert any("(author)" in d for d in indexes(url, "post").values())
    assert query(url, "SELECT author FROM post") == [(1,)]
    with pytest.raises(Exception, match="foreign key"):
        execute(url, "INSERT INTO post (author) VALUES (99)")


def test_max_length_widening_keeps_values(pg: Project) -> None:
    p, url = pg, pg.database
    _step(p, "class Post(Model):\n    title = fields.Text(max_length=5)\n")
    execute(url, "INSERT INTO post (title) VALUES ('abcde')")
    _step(p, "class Post(Model):\n    title = fields.Text(max_length=50)\n")
    assert columns(url, "post")["title"][0] == "character varying(50)"
    execute(url, "INSERT INTO post (title) VALUES ('a much longer title')")
    assert query(url, "SELECT title FROM post ORDER BY id") == [
        ("abcde",),
        ("a much longer title",),
    ]


def test_auto_now_add_column_on_a_table_with_rows(pg: Project) -> None:
    p, url = pg, pg.database
    _step(p, "class Post(Model):\n    title = fields.Text()\n")
    execute(url, "INSERT INTO post (title) VALUES ('old')")
    _step(
        p,
        "class Post(Model):\n    title = fields.Text()\n"
        "    created = fields.Timestamptz(auto_now_add=True)\n",
    )
    typ, nullable, default = columns(url, "post")["created"]
    assert (typ, nullable) == ("timestamp with time zone", False)
    assert default is not None and ("now()" in default or "CURRENT_TIMESTAMP" in default)
    execute(url, "INSERT INTO post (title) VALUES ('new')")
    assert query(url, "SELECT count(*) FROM post WHERE created IS NOT NULL") == [(2,)]


def test_a_cleared_help_text_removes_the_column_comment(pg: Project) -> None:
    p, url = pg, pg.database
    _step(p, 'class Post(Model):\n    note = fields.Text(help="It\'s free")\n')
    assert comment(url, "post", "note") == "It's free"
    _step(p, "class Post(Model):\n    note = fields.Text()\n")
    assert comment(url, "post", "note") is None
    assert p.run("makemigrations", "--check").code == 0
