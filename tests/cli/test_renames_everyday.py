"""Renames people make every week keep every row, through the real CLI on both backends.

A ManyToMany keeps its junction table and its links when either end is renamed (by `table=`,
by a `plugin=` move, or by a new class name matched on column shape) or when the field itself
is renamed; a column rename is found beside other changes of the same model (SPEC §7).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schema_dump

from conftest import Project, execute, fresh_schema, rows

TAG = """
class Tag(Model{tag_kw}):
    name = fields.Text()
"""
BOOK = """
class Book(Model{book_kw}):
    title = fields.Text()
    {field} = fields.ManyToMany("Tag")
"""


def library(tag_kw: str = "", book_kw: str = "", field: str = "tags") -> str:
    return TAG.format(tag_kw=tag_kw) + BOOK.format(book_kw=book_kw, field=field)


def make(p: Project, body: str) -> dict:
    """Write the models, run makemigrations (it must write one file); return that file."""
    p.models(body)
    r = p.run("makemigrations")
    assert r.code == 0, r
    wrote = [line for line in r.out_lines if line.startswith("Wrote migrations/")]
    assert len(wrote) == 1 and wrote[0].startswith("Wrote migrations/app/"), r
    name = wrote[0].rsplit("/", 1)[1]
    return {
        "name": name.removesuffix(".json"),
        "stderr": r.err_lines,
        **p.load_migration("app", name),
    }


def kinds(migration: dict) -> list[str]:
    return [op["kind"] for op in migration["operations"]]


def migrate(p: Project, *args: str) -> None:
    r = p.run("migrate", *args)
    assert r.code == 0, r


def links_in(p: Project, junction: str) -> list[tuple]:
    return sorted(rows(p.database, f"SELECT parent_id, child_id FROM {junction}"))


def linked_library(p: Project) -> str:
    """Two tags, two books, three links, applied; returns the first migration's name."""
    first = make(p, library())
    migrate(p)
    execute(
        p.database,
        "INSERT INTO tag (id, name) VALUES (1, 'sf'), (2, 'classic')",
        "INSERT INTO book (id, title) VALUES (1, 'Dune'), (2, 'Emma')",
        "INSERT INTO book_tags (parent_id, child_id) VALUES (1, 1), (1, 2), (2, 2)",
    )
    return first["name"]


def delete(p: Project, sql: str) -> None:
    """Run a DELETE with foreign keys enforced (SQLite enforces them per connection)."""
    pragma = ["PRAGMA foreign_keys = ON"] if p.database.startswith("sqlite") else []
    execute(p.database, *pragma, sql)


def assert_clean(p: Project) -> None:
    r = p.run("makemigrations", "--check")
    assert (r.code, r.out_lines) == (0, ["no changes detected"]), r


LINKS = [(1, 1), (1, 2), (2, 2)]


@pytest.mark.parametrize(
    ("body", "tag_table"),
    [
        (library(tag_kw=', table="label"'), "label"),
        (library(tag_kw=', plugin="shelf"'), "shelf_tag"),
        (library().replace("Tag", "Label"), "label"),  # matched on column shape
    ],
    ids=["table", "plugin-move", "class-rename"],
)
def test_renaming_the_target_of_a_many_to_many_keeps_its_links(
    any_project: Project, body: str, tag_table: str
) -> None:
    p = any_project
    first = linked_library(p)

    rename = make(p, body)
    assert kinds(rename) == ["RenameTable"]
    migrate(p)  # a rename destroys nothing: no --allow-destructive
    assert links_in(p, "book_tags") == LINKS
    assert rows(p.database, f"SELECT id, name FROM {tag_table} ORDER BY id") == [
        (1, "sf"),
        (2, "classic"),
    ]
    assert_clean(p)
    # The junction's foreign key follows the renamed table: deleting a tag deletes its links.
    delete(p, f"DELETE FROM {tag_table} WHERE id = 1")
    assert links_in(p, "book_tags") == [(1, 2), (2, 2)]

    migrate(p, f"app/{first}")  # the rename back
    assert links_in(p, "book_tags") == [(1, 2), (2, 2)]
    assert rows(p.database, "SELECT id, name FROM tag") == [(2, "classic")]


def test_renaming_both_ends_and_the_field_keeps_the_links(any_project: Project) -> None:
    p = any_project
    first = linked_library(p)

    body = library(tag_kw=', table="label"', book_kw=', table="volume"', field="labels")
    rename = make(p, body)
    assert kinds(rename) == ["RenameTable", "RenameTable", "RenameTable"]
    assert [(op["from"], op["to"]) for op in rename["operations"]] == [
        ("book", "volume"),
        ("tag", "label"),
        ("book_tags", "volume_labels"),
    ]
    assert rename["stderr"] == [
        "umbral makemigrations: rename detected (same target): many-to-many `volume.tags` -> "
        "`labels` - please verify this is a rename and not a drop and an add of two unrelated "
        "relations"
    ]
    migrate(p)
    assert links_in(p, "volume_labels") == LINKS
    assert_clean(p)
    # Both foreign keys of the junction follow: deleting a book deletes its links.
    delete(p, "DELETE FROM volume WHERE id = 2")
    assert links_in(p, "volume_labels") == [(1, 1), (1, 2)]

    migrate(p, f"app/{first}")
    assert links_in(p, "book_tags") == [(1, 1), (1, 2)]


def test_renaming_only_the_field_renames_the_junction(any_project: Project) -> None:
    p = any_project
    linked_library(p)
    rename = make(p, library(field="labels"))
    assert rename["operations"] == [
        {"kind": "RenameTable", "from": "book_tags", "to": "book_labels"}
    ]
    migrate(p)
    assert links_in(p, "book_labels") == LINKS
    assert_clean(p)


def test_a_new_field_may_take_a_renamed_junctions_old_name(any_project: Project) -> None:
    """The renamed junction's indexes and constraints follow its name, so a new ManyToMany
    under the old field name gets fresh ones instead of colliding."""
    p = any_project
    linked_library(p)
    make(p, library(field="labels"))
    migrate(p)
    both = (
        TAG.format(tag_kw="")
        + BOOK.format(book_kw="", field="labels")
        + ('    tags = fields.ManyToMany("Tag")\n')
    )
    make(p, both)
    migrate(p)
    assert links_in(p, "book_labels") == LINKS
    assert links_in(p, "book_tags") == []
    assert_clean(p)


def test_renaming_a_self_referencing_model_keeps_its_links(any_project: Project) -> None:
    p = any_project
    body = """
    class Tag(Model{kw}):
        name = fields.Text()
        related = fields.ManyToMany("Tag")
    """
    first = make(p, body.format(kw=""))
    migrate(p)
    execute(
        p.database,
        "INSERT INTO tag (id, name) VALUES (1, 'sf'), (2, 'space')",
        "INSERT INTO tag_related (parent_id, child_id) VALUES (1, 2), (2, 1)",
    )
    rename = make(p, body.format(kw=', table="label"'))
    assert kinds(rename) == ["RenameTable", "RenameTable"]
    migrate(p)
    assert links_in(p, "label_related") == [(1, 2), (2, 1)]
    assert_clean(p)
    migrate(p, f"app/{first['name']}")
    assert links_in(p, "tag_related") == [(1, 2), (2, 1)]


def test_a_foreign_key_to_a_renamed_table_follows_it(any_project: Project) -> None:
    p = any_project
    body = """
    class Tag(Model{kw}):
        name = fields.Text()

    class Book(Model):
        tag = fields.ForeignKey("Tag", nullable=True, on_delete="cascade")
    """
    first = make(p, body.format(kw=""))
    migrate(p)
    execute(
        p.database,
        "INSERT INTO tag (id, name) VALUES (1, 'sf'), (2, 'classic')",
        "INSERT INTO book (id, tag) VALUES (1, 1), (2, 2)",
    )
    # The database's foreign key follows the rename: nothing to alter.
    rename = make(p, body.format(kw=', table="label"'))
    assert kinds(rename) == ["RenameTable"]
    migrate(p)
    assert_clean(p)
    delete(p, "DELETE FROM label WHERE id = 1")
    assert rows(p.database, "SELECT id, tag FROM book") == [(2, 2)]
    migrate(p, f"app/{first['name']}")
    delete(p, "DELETE FROM tag WHERE id = 2")
    assert rows(p.database, "SELECT id, tag FROM book") == []


SHELF = """
from umbral import Model, fields, hookimpl


class Tag(Model, plugin="shelf"{kw}):
    name = fields.Text()


@hookimpl
def umbral_models():
    return [Tag]
"""


SHELF_BOOK = """
class Book(Model):
    title = fields.Text()
    tags = fields.ManyToMany("shelf.Tag")
"""


def shelf_library(p: Project) -> None:
    """`shelf.Tag` in a plugin, `Book.tags` to it in the app, linked and applied."""
    p.write_config(plugins=["shelf"], plugin_modules={"shelf": "shelf"})
    p.write("shelf.py", SHELF.format(kw=""))
    p.models(SHELF_BOOK)
    assert p.run("makemigrations").code == 0
    migrate(p)
    execute(
        p.database,
        "INSERT INTO shelf_tag (id, name) VALUES (1, 'sf'), (2, 'classic')",
        "INSERT INTO book (id, title) VALUES (1, 'Dune'), (2, 'Emma')",
        "INSERT INTO book_tags (parent_id, child_id) VALUES (1, 1), (1, 2), (2, 2)",
    )


def test_a_target_renamed_by_another_plugin_keeps_the_links(any_project: Project) -> None:
    p = any_project
    shelf_library(p)

    p.write("shelf.py", SHELF.format(kw=', table="shelf_label"'))
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert r.out_lines == [
        "rename detected (class-name match): table `shelf_tag` -> `shelf_label`",
        "Wrote migrations/shelf/0002_rename_shelf_tag_to_shelf_label.json",
        "Wrote migrations/app/0002_auto.json",
    ]
    # Nothing to run for `app`: its junction's foreign key follows the rename. Its migration
    # records the relation's new target, after the rename.
    follow = p.load_migration("app", "0002_auto.json")
    assert follow["operations"] == []
    assert follow["depends_on"] == [
        "app/0001_initial",
        "shelf/0002_rename_shelf_tag_to_shelf_label",
    ]
    assert follow["snapshot_after"]["models"][0]["m2m"][0]["target"] == "shelf_label"
    migrate(p)
    assert links_in(p, "book_tags") == LINKS
    assert_clean(p)
    delete(p, "DELETE FROM shelf_label WHERE id = 1")
    assert links_in(p, "book_tags") == [(1, 2), (2, 2)]

    r = p.run("migrate", "shelf/0001_create_shelf_tag")
    assert r.code == 0, r
    assert links_in(p, "book_tags") == [(1, 2), (2, 2)]
    assert rows(p.database, "SELECT id FROM shelf_tag") == [(2,)]


def test_a_squash_over_a_followed_rename_keeps_the_links(project: Project) -> None:
    p = project
    shelf_library(p)
    p.write("shelf.py", SHELF.format(kw=', table="shelf_label"'))
    assert p.run("makemigrations").code == 0  # app/0002_auto follows the rename
    p.models(SHELF_BOOK + "    note = fields.Text(nullable=True)\n")
    assert p.run("makemigrations").code == 0
    r = p.run("squashmigrations", "app", "--from", "0002_auto")
    assert r.code == 0, r
    squash = p.load_migration("app", "0002_squashed_0003.json")
    assert [op["kind"] for op in squash["operations"]] == ["AddColumn"]
    migrate(p)  # the squash runs in place of the two: nothing destroyed
    assert links_in(p, "book_tags") == LINKS
    assert_clean(p)


def test_two_renamed_relations_to_one_target_are_not_guessed(project: Project) -> None:
    p = project
    body = """
    class Tag(Model):
        name = fields.Text()

    class Book(Model):
        title = fields.Text()
        {a} = fields.ManyToMany("Tag")
        {b} = fields.ManyToMany("Tag")
    """
    make(p, body.format(a="tags", b="genres"))
    second = make(p, body.format(a="labels", b="topics"))
    assert sorted(kinds(second)) == ["CreateM2MTable"] * 2 + ["DropM2MTable"] * 2
    assert second["stderr"] == []


def test_a_changed_target_is_still_a_new_relation(project: Project) -> None:
    p = project
    body = """
    class Tag(Model):
        name = fields.Text()

    class Genre(Model):
        name = fields.Text()

    class Book(Model):
        title = fields.Text()
        tags = fields.ManyToMany("{target}")
    """
    make(p, body.format(target="Tag"))
    second = make(p, body.format(target="Genre"))
    assert kinds(second) == ["DropM2MTable", "CreateM2MTable"]


def test_the_destructive_refusal_says_how_to_keep_the_data(any_project: Project) -> None:
    p = any_project
    linked_library(p)
    second = make(p, TAG.format(tag_kw=""))
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines == [
        "error: umbral migrate: 2 pending destructive operation(s) would DESTROY DATA:",
        f"    [UNSAFE] app/{second['name']}: drops junction table `book_tags` and every link in "
        "it; old code reading it breaks. Expand-contract: stop using the relation, deploy, then "
        "drop",
        f"    [UNSAFE] app/{second['name']}: drops table `book` and all its rows; old code "
        "reading it breaks. Expand-contract: stop reading and writing it, deploy, then drop",
        "Nothing was applied. If this data is not meant to go (a model or field removed by "
        "mistake, or a rename makemigrations wrote as a drop and a create), delete the unapplied "
        "migration file(s) named above, correct the models and run makemigrations again, or "
        "write the rename by hand (RenameTable, RenameColumn); if the data loss is intended, "
        "re-run with --allow-destructive.",
    ]
    assert links_in(p, "book_tags") == LINKS


# -- item: a column rename beside other changes -------------------------------------------

ORDER = """
class Order(Model):
    total = fields.Integer(default=0)
    status = fields.Text(nullable=True)
"""


def test_a_column_rename_beside_an_added_column_keeps_the_values(any_project: Project) -> None:
    p = any_project
    make(p, ORDER)
    migrate(p)
    execute(p.database, "INSERT INTO \"order\" (id, total, status) VALUES (1, 42, 'paid')")

    body = ORDER.replace("total =", "amount =") + "    note = fields.Text(nullable=True)\n"
    second = make(p, body)
    assert second["operations"] == [
        {"kind": "RenameColumn", "table": "order", "from": "total", "to": "amount"},
        {
            "kind": "AddColumn",
            "table": "order",
            "column": {"name": "note", "type": "Text", "primary_key": False, "nullable": True},
        },
    ]
    assert second["stderr"] == [
        "umbral makemigrations: rename detected (column-shape match): column `order.total` -> "
        "`amount` - please verify this is a rename and not a drop and an add of two unrelated "
        "columns"
    ]
    migrate(p)  # no --allow-destructive: nothing is dropped
    assert rows(p.database, 'SELECT id, amount, status, note FROM "order"') == [
        (1, 42, "paid", None)
    ]
    assert_clean(p)


def test_a_column_rename_beside_an_alter_and_a_drop(any_project: Project) -> None:
    p = any_project
    make(p, ORDER + "    legacy = fields.Boolean(nullable=True)\n")
    migrate(p)
    execute(
        p.database,
        "INSERT INTO \"order\" (id, total, status, legacy) VALUES (1, 42, 'paid', NULL)",
    )
    body = """
    class Order(Model):
        amount = fields.Integer(default=0)
        status = fields.Text(nullable=True, default="new")
    """
    second = make(p, body)
    assert kinds(second) == ["RenameColumn", "AlterColumn", "DropColumn"]
    assert [op.get("to") for op in second["operations"][:1]] == ["amount"]
    migrate(p, "--allow-destructive")  # for the dropped `legacy` only
    assert rows(p.database, 'SELECT id, amount, status FROM "order"') == [(1, 42, "paid")]
    assert_clean(p)


def test_two_candidates_of_one_shape_are_not_guessed(project: Project) -> None:
    p = project
    make(p, ORDER)
    body = ORDER.replace("total =", "amount =") + "    count = fields.Integer(default=0)\n"
    second = make(p, body)
    assert kinds(second) == ["DropColumn", "AddColumn", "AddColumn"]
    assert second["stderr"] == []


def test_the_backward_refusal_says_what_un_applying_removes(project: Project) -> None:
    p = project
    first = make(p, TAG.format(tag_kw=""))
    migrate(p)
    r = p.run("migrate", "app/zero")
    assert r.code == 1, r
    assert r.err_lines == [
        "error: umbral migrate: 1 pending destructive operation(s) would DESTROY DATA:",
        f"    [UNSAFE] app/{first['name']}: drops table `tag` and all its rows; old code reading "
        "it breaks. Expand-contract: stop reading and writing it, deploy, then drop",
        "Nothing was un-applied. Un-applying these migrations removes what they added, with its "
        "data; if that is intended, re-run with --allow-destructive.",
    ]


PEOPLE = """
from umbral import Model, fields, hookimpl


class {name}(Model, plugin="people"):
    name = fields.Text(max_length=100)


@hookimpl
def umbral_models():
    return [{name}]
"""

CONTENT = """
class {post}(Model):
    title = fields.Text(max_length=100)
    author = fields.ForeignKey("people.{author}", on_delete="cascade")
"""


def test_two_plugins_rename_a_model_and_one_referencing_it_in_one_run(
    any_project: Project,
) -> None:
    """people.Author -> Writer and Post -> Article (its foreign key to Author) in one run: the
    second was written as CreateTable + DropTable (rows lost with --allow-destructive)."""
    p = any_project
    p.write_config(plugins=["people"], plugin_modules={"people": "people"})
    p.write("people.py", PEOPLE.format(name="Author"))
    p.models(CONTENT.format(post="Post", author="Author"))
    assert p.run("makemigrations").code == 0
    migrate(p)
    execute(
        p.database,
        "INSERT INTO people_author (id, name) VALUES (1, 'a')",
        "INSERT INTO post (id, title, author) VALUES (1, 'p', 1), (2, 'q', 1)",
    )
    p.write("people.py", PEOPLE.format(name="Writer"))
    p.models(CONTENT.format(post="Article", author="Writer"))
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert [
        op["kind"]
        for plugin in ("people", "app")
        for op in p.load_migration(plugin, p.migration_files(plugin)[-1])["operations"]
    ] == ["RenameTable", "RenameTable"]
    migrate(p)  # nothing destructive: no --allow-destructive
    data = "SELECT a.id, a.title, w.name FROM article a JOIN people_writer w ON w.id = a.author"
    assert sorted(rows(p.database, data)) == [(1, "p", "a"), (2, "q", "a")]
    assert_clean(p)
    assert p.run("checkschema").code == 0
    delete(p, "DELETE FROM people_writer WHERE id = 1")  # the cascade still holds
    assert rows(p.database, "SELECT count(*) FROM article") == [(0,)]


KEYED = """
from umbral import Model, fields, hookimpl


class Author(Model, plugin="people"):
    {key} = fields.Text(primary_key=True, max_length=20)
    name = fields.Text(max_length=100)


@hookimpl
def umbral_models():
    return [Author]
"""

READERS = """
class Post(Model):
    title = fields.Text(max_length=100)
    author = fields.ForeignKey("people.Author", on_delete="cascade")
    readers = fields.ManyToMany("people.Author")
"""

SAME_PLUGIN = """
class Author(Model):
    {key} = fields.Text(primary_key=True, max_length=20)
    name = fields.Text(max_length=100)

class Post(Model):
    title = fields.Text(max_length=100)
    author = fields.ForeignKey("Author", on_delete="cascade")
    readers = fields.ManyToMany("Author")
"""


@pytest.mark.parametrize("where", ["other-plugin", "same-plugin"])
def test_renaming_the_key_column_of_a_many_to_many_target_keeps_the_links(
    any_project: Project, scratch_url: str, tmp_path: Path, where: str
) -> None:
    """The target's primary-key column renamed (`code` -> `ident`): the junction was dropped
    and made again (every link lost, refused as destructive) and the foreign key altered.
    Only the RenameColumn runs; the references follow it on every backend, the schema is a
    fresh build's, and it goes back."""
    p = any_project
    other = where == "other-plugin"
    prefix = "people_" if other else ""

    def write(key: str) -> str:
        if other:
            p.write("people.py", KEYED.format(key=key))
            return READERS
        return SAME_PLUGIN.format(key=key)

    if other:
        p.write_config(plugins=["people"], plugin_modules={"people": "people"})
    p.models(write("code"))
    assert p.run("makemigrations").code == 0
    migrate(p)
    authors, posts = f"{prefix}author", "post"
    execute(
        p.database,
        f"INSERT INTO {authors} (code, name) VALUES ('a', 'ann'), ('b', 'bob')",
        f"INSERT INTO {posts} (id, title, author) VALUES (1, 'p', 'a')",
        "INSERT INTO post_readers (parent_id, child_id) VALUES (1, 'a'), (1, 'b')",
    )
    p.models(write("ident"))
    r = p.run("makemigrations")
    assert r.code == 0, r
    ops = [
        op["kind"]
        for plugin in (("people", "app") if other else ("app",))
        for op in p.load_migration(plugin, p.migration_files(plugin)[-1])["operations"]
    ]
    assert ops == ["RenameColumn"], r
    migrate(p)  # nothing destructive
    assert links_in(p, "post_readers") == [(1, "a"), (1, "b")]
    assert rows(p.database, f"SELECT ident, name FROM {authors} ORDER BY ident") == [
        ("a", "ann"),
        ("b", "bob"),
    ]
    assert p.run("checkschema").code == 0
    assert_clean(p)
    config = {"plugins": ["people"], "plugin_modules": {"people": "people"}} if other else {}
    files = {"people.py": KEYED.format(key="ident")} if other else {}
    fresh = fresh_schema(tmp_path, scratch_url, write("ident"), files, **config)
    assert schema_dump.dump(p.database) == fresh
    delete(p, f"DELETE FROM {authors} WHERE ident = 'b'")  # the links' cascade holds
    assert links_in(p, "post_readers") == [(1, "a")]

    first = "people/0001_create_people_author" if other else "app/0001_initial"
    migrate(p, first)
    assert links_in(p, "post_readers") == [(1, "a")]
    assert rows(p.database, f"SELECT code FROM {authors}") == [("a",)]
    assert p.run("checkschema").code == 0
