"""A table still referenced by another table's foreign key is not dropped: SQLite's ``DROP
TABLE`` with enforcement on first deletes every row, and that delete cascades to (or nulls)
the rows that reference them, where PostgreSQL and MySQL refuse the drop. The case people
meet: a model moved to another plugin keeping its table, which makemigrations writes as a
drop in one plugin and a create in the other, with no order between the two."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Project, backend_name, execute, rows

PLUGIN = """
from umbral import Model, fields, hookimpl

{models}

@hookimpl
def umbral_models():
    return [{names}]
"""

PEOPLE = """
class Author(Model, plugin="people"):
    name = fields.Text()
"""

TAG = """
class Tag(Model, plugin="{plugin}", table="content_tag"):
    name = fields.Text()
"""

POST = """
class Post(Model, plugin="content"):
    title = fields.Text()
    main_tag = fields.ForeignKey("{target}", on_delete="cascade")
    tags = fields.ManyToMany("{target}")
"""


def _counts(url: str) -> list[int]:
    tables = ("content_tag", "content_post", "content_post_tags")
    return [rows(url, f"SELECT count(*) FROM {t}")[0][0] for t in tables]


def test_a_model_moved_to_another_plugin_keeps_every_row(any_project: Project) -> None:
    p = any_project
    p.write_config(
        plugins=["people", "content"],
        plugin_modules={"people": "people_plugin", "content": "content_plugin"},
    )
    p.write("people_plugin.py", PLUGIN.format(models=PEOPLE, names="Author"))
    p.write(
        "content_plugin.py",
        PLUGIN.format(models=TAG.format(plugin="content") + POST.format(target="Tag"),
                      names="Tag, Post"),
    )  # fmt: skip
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(
        p.database,
        "INSERT INTO content_tag (name) VALUES ('red'), ('blue')",
        "INSERT INTO content_post (title, main_tag) VALUES ('p', 1), ('q', 2)",
        "INSERT INTO content_post_tags (parent_id, child_id) VALUES (1, 1), (1, 2), (2, 2)",
    )
    # Tag moves to `people`, keeping its table.
    p.write(
        "people_plugin.py",
        PLUGIN.format(models=PEOPLE + TAG.format(plugin="people"), names="Author, Tag"),
    )
    p.write("content_plugin.py", PLUGIN.format(models=POST.format(target="people.Tag"),
                                               names="Post"))  # fmt: skip
    r = p.run("makemigrations")
    assert r.code == 0, r
    # Half of the move done by hand: the joining file's CreateTable taken out (it runs first,
    # and would stop at the table that is there), the leaving file's DropTable kept.
    (joined,) = (p.root / "migrations" / "people").glob("0002_*.json")
    _drop_moves(joined)
    r = p.run("migrate", "--allow-destructive")
    assert r.code == 1 and "Traceback" not in r.stderr, r
    if backend_name(p.database) == "sqlite":
        assert "migration content/0002_drop_content_tag failed and was rolled back" in r.stderr
        assert (
            "cannot drop table `content_tag`: the foreign key(s) of `content_post.main_tag`, "
            "`content_post_tags.child_id` reference it"
        ) in r.stderr, r
    assert _counts(p.database) == [2, 2, 3]


def test_removing_a_model_another_plugin_references_names_the_fields(project: Project) -> None:
    """The refusal names every field that still references the removed model and says to
    remove or repoint them, not to leave out the plugin that has them."""
    p = project
    p.write_config(
        plugins=["people", "content"],
        plugin_modules={"people": "people_plugin", "content": "content_plugin"},
    )
    p.write("people_plugin.py", PLUGIN.format(models=PEOPLE + TAG.format(plugin="people"),
                                              names="Author, Tag"))  # fmt: skip
    p.write("content_plugin.py", PLUGIN.format(models=POST.format(target="people.Tag"),
                                               names="Post"))  # fmt: skip
    assert p.run("makemigrations").code == 0
    p.write("people_plugin.py", PLUGIN.format(models=PEOPLE, names="Author"))
    before = p.tree()
    r = p.run("makemigrations")
    assert (r.code, r.err_lines) == (
        1,
        [
            "error: plugin `content`: `Post.main_tag`, `Post.tags` reference unknown model "
            "`people.Tag` (plugin `people` has no model `Tag`; if it was removed or renamed, "
            "remove these fields or point them at another model first)"
        ],
    ), r
    assert p.tree() == before


BADGE = """
class Badge(Model, plugin="people"):
    tag = fields.ForeignKey("Tag", on_delete="cascade")
"""


def _drop_moves(path: Path) -> None:
    """The move done as models.md says: the file's DropTable / CreateTable taken out."""
    data = json.loads(path.read_text())
    data["operations"] = [
        op for op in data["operations"] if op["kind"] not in ("DropTable", "CreateTable")
    ]
    path.write_text(json.dumps(data, indent=2))


def test_a_model_moved_with_its_table_is_referenced_by_later_migrations(
    any_project: Project,
) -> None:
    """After the move (both files emptied), the plugin the table joined can change the moved
    model and add a model with a foreign key to it: the joining file depends on the leaving
    plugin's migration that still makes the table, so later files of the plugin see it, and a
    replay from an empty database makes the table before the key that points at it."""
    p = any_project
    p.write_config(
        plugins=["people", "content"],
        plugin_modules={"people": "people_plugin", "content": "content_plugin"},
    )
    p.write("people_plugin.py", PLUGIN.format(models=PEOPLE, names="Author"))
    p.write(
        "content_plugin.py",
        PLUGIN.format(models=TAG.format(plugin="content") + POST.format(target="Tag"),
                      names="Tag, Post"),
    )  # fmt: skip
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(
        p.database,
        "INSERT INTO content_tag (name) VALUES ('red'), ('blue')",
        "INSERT INTO content_post (title, main_tag) VALUES ('p', 1), ('q', 2)",
        "INSERT INTO content_post_tags (parent_id, child_id) VALUES (1, 1), (1, 2), (2, 2)",
    )
    p.write(
        "people_plugin.py",
        PLUGIN.format(models=PEOPLE + TAG.format(plugin="people"), names="Author, Tag"),
    )
    p.write("content_plugin.py", PLUGIN.format(models=POST.format(target="people.Tag"),
                                               names="Post"))  # fmt: skip
    r = p.run("makemigrations")
    assert r.code == 0, r
    (joined,) = (p.root / "migrations" / "people").glob("0002_*.json")
    (left,) = (p.root / "migrations" / "content").glob("0002_*.json")
    assert "content/0001_initial" in json.loads(joined.read_text())["depends_on"]
    _drop_moves(joined)
    _drop_moves(left)
    r = p.run("migrate")
    assert r.code == 0, r
    assert _counts(p.database) == [2, 2, 3]
    # The moved model changes, and a new one points at it.
    tag = TAG.format(plugin="people") + "    color = fields.Text(nullable=True)\n"
    p.write(
        "people_plugin.py",
        PLUGIN.format(models=PEOPLE + tag + BADGE, names="Author, Tag, Badge"),
    )
    r = p.run("makemigrations")
    assert r.code == 0, r
    r = p.run("migrate")
    assert r.code == 0, r
    assert _counts(p.database) == [2, 2, 3]
    execute(p.database, "INSERT INTO people_badge (tag) VALUES (2)")
    for command in (("checkschema",), ("makemigrations", "--check")):
        r = p.run(*command)
        assert r.code == 0, r
    # Back to an empty database and forward again, every migration run as written.
    for target in ("people/zero", "content/zero"):
        r = p.run("migrate", target, "--allow-destructive")
        assert r.code == 0, r
    r = p.run("migrate", "--replay")
    assert r.code == 0, r
    r = p.run("checkschema")
    assert r.code == 0, r
