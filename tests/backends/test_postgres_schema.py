"""Every operation runs on a real PostgreSQL server; the schema is read back from the catalogs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pg_helpers import columns, comment, constraints, indexes, query, recorded, tables
from pg_helpers import write_migration as write

from umbral import App
from umbral import operations as ops
from umbral.errors import MigrationFailed, MigrationFileError
from umbral.schema import Column as C

pytestmark = pytest.mark.postgres


def _app(root: Path, url: str) -> App:
    return App(database=url, plugins=[], root=root)


def test_every_operation_on_the_server(tmp_path: Path, postgres_url: str) -> None:
    url = postgres_url
    write(tmp_path, "0001_initial", [
        ops.CreateTable(table="author", columns=(
            C("id", "BigInt", primary_key=True), C("email", "Text", unique=True))),
        ops.CreateTable(table="tag", columns=(
            C("id", "Uuid", primary_key=True), C("name", "Text", max_length=30))),
        ops.CreateTable(table="post", columns=(
            C("id", "Integer", primary_key=True),
            C("title", "Text", max_length=100),
            C("status", "Text", default="draft", choices=("draft", "published")),
            C("author", "ForeignKey", fk_target="author", fk_column="id", on_delete="cascade"),
            C("tag", "ForeignKey", fk_target="tag", fk_column="id", fk_type="Uuid",
              nullable=True),
            C("note", "Text", nullable=True, help="Free text"),
        ), unique_together=(("author", "title"),)),
        ops.CreateM2MTable(table="post_tags", parent_table="post", parent_column="id",
                           child_table="tag", child_column="id", parent_type="Integer",
                           child_type="Uuid"),
        ops.RunSql(sql="INSERT INTO author (email) VALUES ('a@x'); "
                       "INSERT INTO post (title, author) VALUES ('one', 1), ('two', 1)"),
    ])  # fmt: skip
    _app(tmp_path, url).migrate()
    assert columns(url, "post") == {
        "id": ("integer", False, "identity"),
        "title": ("character varying(100)", False, None),
        "status": ("text", False, "'draft'::text"),
        "author": ("bigint", False, None),
        "tag": ("uuid", True, None),
        "note": ("text", True, None),
    }
    assert constraints(url, "post") == {
        "post_author_fkey": "FOREIGN KEY (author) REFERENCES author(id) ON DELETE CASCADE",
        "post_pkey": "PRIMARY KEY (id)",
        "post_status_check": "CHECK ((status = ANY (ARRAY['draft'::text, 'published'::text])))",
        "post_tag_fkey": "FOREIGN KEY (tag) REFERENCES tag(id)",
    }
    assert constraints(url, "author")["author_email_key"] == "UNIQUE (email)"
    assert set(indexes(url, "post")) == {
        "post_pkey", "uniq_post_author_title", "idx_post_author", "idx_post_tag",
    }  # fmt: skip
    assert comment(url, "post", "note") == "Free text"
    assert columns(url, "post_tags") == {
        "parent_id": ("integer", False, None),
        "child_id": ("uuid", False, None),
    }
    assert constraints(url, "post_tags")["post_tags_pkey"] == "PRIMARY KEY (parent_id, child_id)"

    write(tmp_path, "0002_alter", [
        ops.AddColumn(table="post", column=C("rank", "Integer", default=0, index=True)),
        ops.AddColumn(table="post", column=C("slug", "Text", nullable=True, unique=True,
                                             help="URL part")),
        ops.AlterColumn(table="post", column="rank", from_=C("rank", "Integer", default=0,
                        index=True), to=C("rank", "BigInt", default=0, index=True)),
        ops.AlterColumn(table="post", column="note", from_=C("note", "Text", nullable=True),
                        to=C("note", "Text", default="n/a")),
        ops.AlterColumn(table="post", column="status",
                        from_=C("status", "Text", default="draft", choices=("draft", "published")),
                        to=C("status", "Text", default="draft",
                             choices=("draft", "published", "archived"))),
        ops.AlterColumn(table="author", column="email", from_=C("email", "Text", unique=True),
                        to=C("email", "Text", nullable=True)),
        ops.AlterColumn(table="post", column="author",
                        from_=C("author", "ForeignKey", fk_target="author", fk_column="id",
                                on_delete="cascade"),
                        to=C("author", "ForeignKey", fk_target="author", fk_column="id",
                             on_delete="restrict")),
        ops.AddIndex(table="post", columns=("title", "status")),
        ops.SetColumnComment(table="post", column="note", comment="Notes, 100% optional"),
        ops.CreateView(name="post_titles", sql="SELECT title, 'at :now' AS tag FROM post"),
    ])  # fmt: skip
    _app(tmp_path, url).migrate()
    cols = columns(url, "post")
    assert cols["rank"] == ("bigint", False, "0")
    assert cols["note"] == ("text", False, "'n/a'::text")
    assert query(url, "SELECT note FROM post ORDER BY id") == [("n/a",), ("n/a",)]  # backfilled
    assert columns(url, "author")["email"] == ("text", True, None)
    assert "author_email_key" not in constraints(url, "author")
    cons = constraints(url, "post")
    assert "'archived'::text" in cons["post_status_check"]
    assert cons["post_author_fkey"].endswith("ON DELETE RESTRICT")
    assert cons["post_slug_key"] == "UNIQUE (slug)"
    assert {"idx_post_rank", "idx_post_title_status"} <= set(indexes(url, "post"))
    assert comment(url, "post", "note") == "Notes, 100% optional"
    assert comment(url, "post", "slug") == "URL part"
    assert query(url, "SELECT * FROM post_titles ORDER BY title") == [
        ("one", "at :now"), ("two", "at :now"),
    ]  # fmt: skip

    write(tmp_path, "0003_rename", [
        ops.DropIndex(table="post", columns=("title", "status")),
        ops.RenameColumn(table="post", from_="title", to="headline"),
        ops.RenameTable(from_="post", to="article"),
        ops.RunSql(sql="CREATE FUNCTION umbral_half(n int) RETURNS int AS $$ "
                       "SELECT n / 2; $$ LANGUAGE sql; "
                       "UPDATE article SET rank = 7 % 4 WHERE slug IS NULL"),
    ])  # fmt: skip
    # The snapshot state the renames need comes from the previous migration's snapshot; these
    # hand-written files carry empty snapshots, so only the table/column renames themselves run.
    _app(tmp_path, url).migrate()
    assert "article" in tables(url) and "post" not in tables(url)
    assert "headline" in columns(url, "article")
    assert query(url, "SELECT DISTINCT rank FROM article") == [(3,)]
    assert query(url, "SELECT umbral_half(9)") == [(4,)]
    assert "idx_post_title_status" not in indexes(url, "article")
    assert "idx_post_rank" in indexes(url, "article")

    write(tmp_path, "0004_drop", [
        ops.DropView(name="post_titles"),
        ops.DropColumn(table="article", column="slug"),
        ops.DropM2MTable(table="post_tags"),
        ops.DropTable(table="article"),
    ])  # fmt: skip
    App(database=url, plugins=[], root=tmp_path).migrate(allow_destructive=True)
    assert tables(url) == ["author", "tag", "umbral_migrations"]
    assert query(url, "SELECT count(*) FROM pg_views WHERE viewname = 'post_titles'") == [(0,)]
    assert [n for _, n in recorded(url)] == ["0001_initial", "0002_alter", "0003_rename",
                                             "0004_drop"]  # fmt: skip


def test_renames_keep_derived_names_when_the_state_is_known(
    tmp_path: Path, postgres_url: str
) -> None:
    """With real snapshots, a rename carries constraint and index names along (SPEC §6)."""
    url = postgres_url
    post = {"name": "Post", "table": "post", "fields": [
        {"name": "id", "type": "BigInt", "primary_key": True, "nullable": False},
        {"name": "title", "type": "Text", "primary_key": False, "nullable": False,
         "unique": True},
        {"name": "status", "type": "Text", "primary_key": False, "nullable": False,
         "choices": ["a", "b"], "index": True},
    ]}  # fmt: skip
    first = write(tmp_path, "0001_create_post", [
        ops.CreateTable(table="post", columns=(
            C("id", "BigInt", primary_key=True), C("title", "Text", unique=True),
            C("status", "Text", choices=("a", "b"), index=True))),
    ])  # fmt: skip
    import json

    data = json.loads(first.read_text())
    data["snapshot_after"] = {"models": [post]}
    first.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    write(tmp_path, "0002_rename", [
        ops.RenameColumn(table="post", from_="status", to="state"),
        ops.RenameTable(from_="post", to="article"),
    ])  # fmt: skip
    _app(tmp_path, url).migrate()
    # 0002's second operation sees the state after the first (status -> state).
    assert set(constraints(url, "article")) == {
        "article_pkey", "article_title_key", "article_state_check",
    }  # fmt: skip
    assert set(indexes(url, "article")) == {
        "article_pkey",
        "article_title_key",
        "idx_article_state",
    }


def test_failed_migration_rolls_back_ddl_and_tracking_row(
    tmp_path: Path, postgres_url: str
) -> None:
    write(
        tmp_path,
        "0001_ok",
        [ops.CreateTable(table="a", columns=(C("id", "BigInt", primary_key=True),))],
    )
    write(tmp_path, "0002_bad", [
        ops.CreateTable(table="b", columns=(C("id", "BigInt", primary_key=True),)),
        ops.RunSql(sql="SELECT * FROM no_such_table"),
    ])  # fmt: skip
    with pytest.raises(MigrationFailed) as info:
        _app(tmp_path, postgres_url).migrate()
    assert "no_such_table" in str(info.value)
    assert info.value.statement == "SELECT * FROM no_such_table"
    assert tables(postgres_url) == ["a", "umbral_migrations"]
    assert recorded(postgres_url) == [("app", "0001_ok")]


def test_concurrent_op_in_an_atomic_migration_is_refused_at_load(
    tmp_path: Path, postgres_url: str
) -> None:
    write(tmp_path, "0001_idx", [ops.AddIndex(table="a", columns=("x",), concurrent=True)])
    with pytest.raises(MigrationFileError, match=r'"atomic": false'):
        _app(tmp_path, postgres_url).migrate()
    assert recorded(postgres_url) == []


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg"])
def test_url_schemes_mean_psycopg3(tmp_path: Path, postgres_url: str, scheme: str) -> None:
    url = scheme + "://" + postgres_url.split("://", 1)[1]
    write(
        tmp_path,
        "0001_a",
        [ops.CreateTable(table="a", columns=(C("id", "BigInt", primary_key=True),))],
    )
    result = _app(tmp_path, url).migrate()
    assert result.applied == ["app/0001_a"]
    assert tables(postgres_url) == ["a", "umbral_migrations"]
