"""The makemigrations -> migrate loop through the real CLI (SPEC §5, §7, §12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Project, execute, is_mysql, rows, run_umbral, schema_of
from umbral.loader import load_file

POST = """
class Post(Model):
    title = fields.Text()
"""


def columns(url: str, table: str) -> list[str]:
    return [c[0] for c in schema_of(url)[table]["columns"]]


def indexes(url: str, table: str) -> list[str]:
    return [i[0] for i in schema_of(url)[table]["indexes"]]


def make(p: Project, body: str, *args: str) -> list[str]:
    """Write the models, run makemigrations, return its stdout lines."""
    p.models(body)
    r = p.run("makemigrations", *args)
    assert r.code == 0, r
    return r.out_lines


def migrate(p: Project, *args: str) -> list[str]:
    r = p.run("migrate", *args)
    assert r.code == 0, r
    return r.out_lines


def test_loop_add_index_drop_and_rename_on_any_backend(any_project: Project) -> None:
    p = any_project
    url = p.database
    assert make(p, POST) == ["Wrote migrations/app/0001_create_post.json"]
    assert migrate(p) == ["Applied 1 migration(s)"]
    r = p.run("showmigrations")
    assert (r.code, r.out_lines) == (0, ["# plugin: app", "[X] app/0001_create_post"])
    assert p.run("makemigrations").out_lines == ["no changes detected"]
    execute(url, "INSERT INTO post (title) VALUES ('hello')")

    # add a column
    body = POST + "    slug = fields.Text(nullable=True)\n"
    assert make(p, body) == ["Wrote migrations/app/0002_add_post_slug.json"]
    assert migrate(p) == ["Applied 1 migration(s)"]
    assert columns(url, "post") == ["id", "title", "slug"]

    # add an index on an existing column
    body = POST.replace("fields.Text()", "fields.Text(index=True)")
    body += "    slug = fields.Text(nullable=True)\n"
    assert make(p, body) == ["Wrote migrations/app/0003_add_index_post_title.json"]
    assert migrate(p) == ["Applied 1 migration(s)"]
    assert "idx_post_title" in indexes(url, "post")

    # rename a column: one removed + one added of the same shape
    body = body.replace("slug =", "handle =")
    p.models(body)
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert r.out_lines == ["Wrote migrations/app/0004_rename_post_slug_to_handle.json"]
    assert r.err_lines == [
        "umbral makemigrations: rename detected (column-shape match): column `post.slug` -> "
        "`handle` - please verify this is a rename and not a drop and an add of two unrelated "
        "columns"
    ]
    assert migrate(p) == ["Applied 1 migration(s)"]
    assert columns(url, "post") == ["id", "title", "handle"]

    # rename the table by class name (pass 1, note on stdout)
    body = body.replace("class Post(Model):", 'class Post(Model, table="article"):')
    p.models(body)
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert r.out_lines == [
        "rename detected (class-name match): table `post` -> `article`",
        "Wrote migrations/app/0005_rename_post_to_article.json",
    ]
    assert r.err_lines == []
    assert migrate(p) == ["Applied 1 migration(s)"]

    # drop the column (destructive: gated)
    body = body.replace("    handle = fields.Text(nullable=True)\n", "")
    assert make(p, body) == ["Wrote migrations/app/0006_drop_article_handle.json"]
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines[0] == (
        "error: umbral migrate: 1 pending destructive operation(s) would DESTROY DATA:"
    )
    assert migrate(p, "--allow-destructive") == ["Applied 1 migration(s)"]

    assert sorted(schema_of(url)) == ["article", "umbral_migrations"]
    assert columns(url, "article") == ["id", "title"]
    assert rows(url, "SELECT title FROM article") == [("hello",)]
    assert rows(url, "SELECT name FROM umbral_migrations ORDER BY name") == [
        (n.removesuffix(".json"),) for n in p.migration_files()
    ]
    assert p.run("makemigrations").out_lines == ["no changes detected"]


def test_a_renamed_column_can_get_a_new_help_in_the_same_migration(any_project: Project) -> None:
    """The comment is set on the column under its new name, so after the rename."""
    p = any_project
    make(p, POST + "    note = fields.Text(nullable=True)\n")
    migrate(p)
    execute(p.database, "INSERT INTO post (title, note) VALUES ('a', 'kept')")
    make(p, POST + '    remark = fields.Text(nullable=True, help="Free text")\n')
    migrate(p)
    assert rows(p.database, "SELECT title, remark FROM post") == [("a", "kept")]
    if is_mysql(p.database):
        got = (
            "SELECT column_comment FROM information_schema.columns WHERE "
            "table_schema = DATABASE() AND table_name = 'post' AND column_name = 'remark'"
        )
        assert rows(p.database, got) == [("Free text",)]
    elif not p.database.startswith("sqlite"):  # SQLite has no column comments
        got = "SELECT col_description('post'::regclass, 3)"
        assert rows(p.database, got) == [("Free text",)]
    assert p.run("makemigrations", "--check").code == 0


def test_a_table_whose_rows_reference_each_other_can_be_dropped(any_project: Project) -> None:
    """SQLite checks a DROP TABLE's implicit delete against the table's own RESTRICT key."""
    p = any_project
    make(p, 'class Node(Model):\n    up = fields.ForeignKey("Node", nullable=True, '
            'on_delete="restrict")\n')  # fmt: skip
    migrate(p)
    execute(p.database, "INSERT INTO node (up) VALUES (NULL)", "INSERT INTO node (up) VALUES (1)")
    make(p, "")
    assert migrate(p, "--allow-destructive") == ["Applied 1 migration(s)"]
    assert "node" not in schema_of(p.database)


def test_a_column_with_choices_can_be_cast_both_ways(any_project: Project) -> None:
    """The CHECK of the old choices compares with the old type's values: it goes before the
    type changes, and the new one comes after (forward and back)."""
    p = any_project
    make(p, "class Item(Model):\n    size = fields.Integer(nullable=True, choices=[1, 2])\n")
    migrate(p)
    execute(p.database, "INSERT INTO item (size) VALUES (2)")
    make(p, 'class Item(Model):\n    size = fields.Text(nullable=True, choices=["1", "2"])\n')
    migrate(p)
    assert rows(p.database, "SELECT size FROM item") == [("2",)]
    execute(p.database, "DELETE FROM item")
    r = p.run("migrate", "app/0001_create_item")
    assert r.code == 0, r
    assert p.run("migrate").code == 0


def test_rename_by_column_shape_is_noted_on_stderr(project: Project) -> None:
    p = project
    make(p, POST)
    p.models(POST.replace("class Post", "class Article"))
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert r.out_lines == ["Wrote migrations/app/0002_rename_post_to_article.json"]
    assert r.err_lines == [
        "umbral makemigrations: rename detected (column-shape match): `post` -> `article` - "
        "please verify this is a rename and not a coincidental column-shape match between two "
        "unrelated models"
    ]
    ops = p.load_migration("app", "0002_rename_post_to_article.json")["operations"]
    assert ops == [{"kind": "RenameTable", "from": "post", "to": "article"}]


def test_unrelated_shapes_drop_and_create(project: Project) -> None:
    p = project
    make(p, POST)
    p.models("class Tag(Model):\n    label = fields.Integer()\n")
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert r.out_lines == ["Wrote migrations/app/0002_auto.json"]
    kinds = [o["kind"] for o in p.load_migration("app", "0002_auto.json")["operations"]]
    assert sorted(kinds) == ["CreateTable", "DropTable"]


def test_add_indexed_column_creates_its_index_once(project: Project) -> None:
    p = project
    make(p, POST)
    migrate(p)
    body = POST + "    slug = fields.Text(nullable=True, index=True)\n"
    assert make(p, body) == ["Wrote migrations/app/0002_add_post_slug.json"]
    assert migrate(p) == ["Applied 1 migration(s)"]
    assert indexes(p.database, "post") == ["idx_post_slug"]


def test_sequence_is_max_plus_one(project: Project) -> None:
    p = project
    make(p, POST)
    # A hand-numbered file leaves a gap; the next file continues after the highest number.
    src = p.root / "migrations/app/0001_create_post.json"
    text = src.read_text().replace('"0001_create_post"', '"0007_create_post"')
    src.unlink()
    (p.root / "migrations/app/0007_create_post.json").write_text(text)
    out = make(p, POST + "    body = fields.Text(default='')\n")
    assert out == ["Wrote migrations/app/0008_add_post_body.json"]
    assert p.load_migration("app", "0008_add_post_body.json")["depends_on"] == [
        "app/0007_create_post"
    ]


def test_name_overrides_the_suffix_and_several_operations_are_auto(project: Project) -> None:
    p = project
    assert make(p, POST, "--name", "initial") == ["Wrote migrations/app/0001_initial.json"]
    body = POST + "    a = fields.Text(nullable=True)\n    b = fields.Text(nullable=True)\n"
    assert make(p, body) == ["Wrote migrations/app/0002_auto.json"]
    data = p.load_migration("app", "0002_auto.json")
    assert data["id"] == "0002_auto"
    assert [o["kind"] for o in data["operations"]] == ["AddColumn", "AddColumn"]


def test_empty_writes_an_empty_migration_with_the_previous_snapshot(project: Project) -> None:
    p = project
    make(p, POST)
    r = p.run("makemigrations", "--empty", "app")
    assert r.code == 0, r
    assert r.out_lines[0] == "Wrote migrations/app/0002_empty.json (empty)"
    data = p.load_migration("app", "0002_empty.json")
    assert data["operations"] == []
    assert data["depends_on"] == ["app/0001_create_post"]
    first = p.load_migration("app", "0001_create_post.json")
    assert data["snapshot_after"] == first["snapshot_after"]
    # An empty migration is recorded like any other (SPEC §8).
    assert migrate(p) == ["Applied 2 migration(s)"]
    assert p.run("makemigrations").out_lines == ["no changes detected"]


def test_empty_for_unknown_plugin_is_an_error(project: Project) -> None:
    p = project
    make(p, POST)
    before = p.tree()
    r = p.run("makemigrations", "--empty", "nope")
    assert r.code == 1, r
    assert r.err_lines == [
        "error: umbral makemigrations --empty: no plugin named `nope`; known plugins: app"
    ]
    assert p.tree() == before


def test_files_are_canonical_json(project: Project) -> None:
    p = project
    make(
        p,
        """
        class Author(Model):
            name = fields.Text(max_length=100, help="Display name")
            email = fields.Text(unique=True)

        class Post(Model, unique_together=[("author", "slug")], indexes=[("title", "slug")]):
            title = fields.Text()
            slug = fields.Text(nullable=True)
            status = fields.Text(default="draft", choices=["draft", "published"], index=True)
            author = fields.ForeignKey(Author, on_delete="cascade")
            tags = fields.ManyToMany("Tag")

        class Tag(Model):
            name = fields.Text()
        """,
    )
    (path,) = (p.root / "migrations/app").glob("*.json")
    text = path.read_text()
    assert text.endswith("}\n") and "\n  " in text and "\t" not in text
    assert load_file(path, "app").dumps() == text
    # The CreateTables are ordered so FK targets come first.
    tables = [o.get("table") for o in load_file(path, "app").to_dict()["operations"]]
    assert tables.index("author") < tables.index("post")


def test_check_exits_1_and_writes_nothing_when_changes_are_pending(project: Project) -> None:
    p = project
    p.models(POST)
    before = p.tree()
    r = p.run("makemigrations", "--check")
    assert r.code == 1, r
    assert r.out_lines[0] == "Would write migrations/app/0001_create_post.json"
    assert p.tree() == before
    assert not (p.root / "migrations").exists()
    assert p.run("makemigrations").code == 0
    r = p.run("makemigrations", "--check")
    assert (r.code, r.out_lines) == (0, ["no changes detected"])


def test_dry_run_prints_the_file_and_writes_nothing(project: Project) -> None:
    p = project
    p.models(POST)
    before = p.tree()
    r = p.run("makemigrations", "--dry-run")
    assert r.code == 0, r
    assert r.out_lines[0] == "Would write migrations/app/0001_create_post.json"
    assert '  "id": "0001_create_post",' in r.out_lines
    assert p.tree() == before


@pytest.mark.parametrize("flag", ["--check", "--dry-run"])
def test_check_and_dry_run_on_a_clean_project(project: Project, flag: str) -> None:
    p = project
    make(p, POST)
    r = p.run("makemigrations", flag)
    assert (r.code, r.out_lines) == (0, ["no changes detected"])


def test_help_change_is_a_comment_migration(project: Project) -> None:
    p = project
    make(p, 'class Post(Model):\n    status = fields.Text(default="d", choices=["d"])\n')
    # `help` becomes a column comment (SPEC §2), named comment_<t>_<c> (SPEC §5).
    p.models('class Post(Model):\n    status = fields.Text(default="d", choices=["d"], help="x")\n')
    r = p.run("makemigrations")
    assert r.out_lines == ["Wrote migrations/app/0002_comment_post_status.json"]


def test_migration_dir_is_relative_to_the_project_not_the_cwd(project: Project) -> None:
    p = project
    p.models(POST)
    sub = p.root / "sub"
    sub.mkdir()
    r = run_umbral("makemigrations", cwd=sub)
    assert r.code == 0, r
    assert Path(p.root / "migrations/app/0001_create_post.json").is_file()
    assert not (sub / "migrations").exists()


def test_renamed_indexed_column_keeps_a_usable_index(any_project: Project) -> None:
    p = any_project
    make(p, POST + "    slug = fields.Text(nullable=True, index=True)\n")
    make(p, POST + "    handle = fields.Text(nullable=True, index=True)\n")
    migrate(p)
    assert indexes(p.database, "post") == ["idx_post_handle"]
    # Dropping the index by its new name, then the column, both work.
    make(p, POST + "    handle = fields.Text(nullable=True)\n")
    assert migrate(p) == ["Applied 1 migration(s)"]
    assert indexes(p.database, "post") == []
    make(p, POST)
    assert migrate(p, "--allow-destructive") == ["Applied 1 migration(s)"]
    assert columns(p.database, "post") == ["id", "title"]


def _long_name_warning(what: str, where: str, size: int, refused: str) -> str:
    return (
        f"warning: umbral makemigrations: {what} name `{where}` is {size} bytes long, more "
        f"than {refused} keeps: give it a shorter name to use that database"
    )


def test_a_new_name_longer_than_the_servers_keep_is_warned_about_once(project: Project) -> None:
    p = project
    long, column = "a" * 60 + "_table", "b" * 64  # 66 and 64 bytes
    model = f'class Item(Model, table="{long}"):\n    label = fields.Text()\n'
    p.models(model)
    r = p.run("makemigrations")
    assert r.code == 0, r
    both = "postgres (63 bytes), mysql (64 characters)"
    assert r.err_lines == [_long_name_warning("table", long, 66, both)]
    # A later change says nothing about the name already made, only about the new one.
    p.models(model + f"    {column} = fields.Integer(nullable=True)\n")
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert r.err_lines == [
        _long_name_warning("column", f"{long}.{column}", 64, "postgres (63 bytes)")
    ]
    assert p.run("migrate").code == 0  # SQLite keeps every name whole
