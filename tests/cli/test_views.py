"""Views declared with ``view=`` (SPEC §2, §7): created after tables, re-created when a table
they read changes, dropped before table operations; on both backends."""

from __future__ import annotations

from conftest import Project, execute, rows

POST = """
class Post(Model):
    title = fields.Text()
    published = fields.Boolean(default=False)
"""

VIEW = """
class PublishedPost(Model, view="SELECT id, title FROM post WHERE published"):
    pass
"""


def kinds(p: Project, name: str) -> list[str]:
    return [op["kind"] for op in p.load_migration("app", name)["operations"]]


def test_view_lifecycle(any_project: Project) -> None:
    p = any_project
    p.models(POST + VIEW)
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert kinds(p, "0001_initial.json") == ["CreateTable", "CreateView"]
    assert p.run("migrate").code == 0, p.run("migrate")
    execute(p.database, "INSERT INTO post (title, published) VALUES ('a', TRUE), ('b', FALSE)")
    assert rows(p.database, "SELECT title FROM published_post") == [("a",)]

    # A change to a table the view reads re-creates the view around it.
    p.models(POST.replace("title = fields.Text()", "title = fields.Text(nullable=True)") + VIEW)
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert kinds(p, "0002_auto.json") == ["DropView", "AlterColumn", "CreateView"]
    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(p.database, "SELECT title FROM published_post") == [("a",)]

    # Changing the view's SQL replaces it; removing the model drops it.
    p.models(
        POST.replace("title = fields.Text()", "title = fields.Text(nullable=True)")
        + VIEW.replace("WHERE published", "WHERE NOT published")
    )
    assert p.run("makemigrations").code == 0
    assert kinds(p, "0003_auto.json") == ["DropView", "CreateView"]
    assert p.run("migrate").code == 0
    assert rows(p.database, "SELECT title FROM published_post") == [("b",)]

    p.models(POST.replace("title = fields.Text()", "title = fields.Text(nullable=True)"))
    assert p.run("makemigrations").code == 0
    assert kinds(p, "0004_auto.json") == ["DropView"]
    r = p.run("migrate")
    assert r.code == 0, r
    r = p.run("migrate", "app/0003_auto", "--plan")
    assert r.out_lines == ["Unapply app/0004_auto", "    Create view published_post"]
    r = p.run("migrate", "app/0003_auto")
    assert r.code == 0, r
    assert rows(p.database, "SELECT title FROM published_post") == [("b",)]


def test_a_view_still_naming_a_renamed_table_is_warned_about(project: Project) -> None:
    """A table renamed while a view's SQL still names it: the view is re-created around the
    rename with its SQL as written, which fails on PostgreSQL and MySQL (part way there) and
    leaves SQLite's view reading a table that is gone. makemigrations says so."""
    p = project
    p.models(POST + VIEW)
    assert p.run("makemigrations").code == 0
    renamed = POST.replace("class Post(Model):", 'class Post(Model, table="article"):')
    p.models(renamed + VIEW)
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert r.err_lines == [
        "warning: umbral makemigrations: view `published_post` names `post`, which this "
        "migration renames to `article`: its SQL runs as written when the view is re-created; "
        "update it if it means that table"
    ], r
    # With the SQL updated, nothing is said.
    (p.root / "migrations" / "app" / "0002_auto.json").unlink()
    p.models(renamed + VIEW.replace("FROM post", "FROM article"))
    r = p.run("makemigrations")
    assert (r.code, r.err_lines) == (0, []), r
    assert p.run("migrate").code == 0


def test_a_column_rename_in_another_table_leaves_the_view_alone(project: Project) -> None:
    """A view was re-created (its grants lost) when a column of a table it does not read was
    renamed to, or from, a word its SQL holds."""
    p = project
    label = "\nclass Label(Model):\n    {} = fields.Text()\n"
    p.models(POST + VIEW + label.format("caption"))
    assert p.run("makemigrations").code == 0
    p.models(POST + VIEW + label.format("title"))
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert kinds(p, p.migration_files()[-1]) == ["RenameColumn"], r


def test_a_view_still_naming_a_renamed_column_is_warned_about(project: Project) -> None:
    """The view's SQL as written names the old column: re-created, it fails (MySQL part way,
    the view gone). makemigrations said nothing for a column."""
    p = project
    p.models(POST + VIEW)
    assert p.run("makemigrations").code == 0
    p.models(POST.replace("title =", "headline =") + VIEW)
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert r.err_lines[-1] == (
        "warning: umbral makemigrations: view `published_post` reads `post` and names `title`, "
        "a column this migration renames to `headline`: its SQL runs as written when the view "
        "is re-created; update it if it means that column"
    ), r
