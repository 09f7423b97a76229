"""N-1 compatibility shims: a rename made with `makemigrations --compat` leaves a view so the
previous release keeps reading and writing under the old names while the new release uses the
new ones; `checkmigrations` lists the live shim, and `makemigrations --drop-compat` writes the
contract migration that drops it. Through the CLI on both backends.
"""

from __future__ import annotations

import json

import pytest

from conftest import Project, execute, is_mysql, rows

POST = """
class Post(Model{kw}):
    {column} = fields.Text()
    status = fields.Text(default="draft")
"""


def models(p: Project, kw: str = "", column: str = "title") -> None:
    p.models(POST.format(kw=kw, column=column))


def ok(p: Project, *args: str) -> list[str]:
    r = p.run(*args)
    assert r.code == 0, r
    return r.out_lines


def relations(p: Project) -> set[str]:
    if p.database.startswith("sqlite"):
        found = rows(p.database, "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
    elif is_mysql(p.database):
        found = rows(
            p.database,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()",
        )
    else:
        found = rows(
            p.database,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
        )
    return {name for (name,) in found}


def test_table_rename_shim_keeps_the_old_name_working_until_dropped(any_project: Project) -> None:
    p = any_project
    models(p)
    ok(p, "makemigrations")
    ok(p, "migrate")
    execute(p.database, "INSERT INTO post (title) VALUES ('before')")

    models(p, kw=', table="article"')
    ok(p, "makemigrations", "--compat")
    rename = p.load_migration("app", "0002_rename_post_to_article.json")
    assert rename["operations"] == [
        {"kind": "RenameTable", "from": "post", "to": "article", "compat": True}
    ]
    assert rename["snapshot_after"]["shims"] == [
        {"name": "post", "table": "article", "since": "0002_rename_post_to_article"}
    ]
    # With its shim the rename is safe for a rolling deploy.
    check = p.run("checkmigrations", "--strict")
    assert check.code == 0, check
    assert "0 warning, 0 unsafe" in check.stdout
    ok(p, "migrate")

    # The previous release (old name) and the new one (new name), side by side.
    execute(
        p.database,
        "INSERT INTO post (title) VALUES ('from N-1')",
        "INSERT INTO article (title) VALUES ('from N')",
        "UPDATE post SET title = 'before, edited by N-1' WHERE title = 'before'",
    )
    # A column N-1 leaves out gets the table's default, through the shim too.
    assert rows(p.database, "SELECT status FROM article WHERE title = 'from N-1'") == [("draft",)]
    titles = sorted(t for (t,) in rows(p.database, "SELECT title FROM article"))
    assert titles == ["before, edited by N-1", "from N", "from N-1"]
    assert sorted(t for (t,) in rows(p.database, "SELECT title FROM post")) == titles
    execute(p.database, "DELETE FROM post WHERE title = 'from N'")
    schema = p.run("checkschema")
    assert schema.code == 0, schema  # the shim is what the snapshot promises, not drift
    assert len(rows(p.database, "SELECT id FROM article")) == 2

    # checkmigrations lists the live shim and its age.
    ok(p, "makemigrations", "--empty", "app")
    shown = ok(p, "checkmigrations")
    assert (
        "  post: view of article, created by app/0002_rename_post_to_article, 1 migration(s) "
        "since; drop it with `umbral makemigrations --drop-compat post`"
    ) in shown
    data = json.loads(p.run("checkmigrations", "--json").stdout)
    assert data["shims"] == [{"plugin": "app", "name": "post", "table": "article",
                              "since": "0002_rename_post_to_article", "age": 1}]  # fmt: skip
    ok(p, "migrate")

    # The contract migration drops it.
    assert ok(p, "makemigrations", "--drop-compat", "post") == [
        "Wrote migrations/app/0004_drop_compat_post.json"
    ]
    contract = p.load_migration("app", "0004_drop_compat_post.json")
    assert contract["operations"] == [
        {"kind": "DropCompatShim", "name": "post", "table": "article"}
    ]
    assert "shims" not in contract["snapshot_after"]
    ok(p, "migrate")
    assert "post" not in relations(p) and "article" in relations(p)
    assert "LIVE SHIMS" not in p.run("checkmigrations").stdout
    assert ok(p, "makemigrations", "--check") == ["no changes detected"]

    # Un-applied, the shim comes back, then the rename is undone.
    ok(p, "migrate", "app/0003_empty")
    assert {"post", "article"} <= relations(p)
    ok(p, "migrate", "app/0001_create_post")
    assert "article" not in relations(p)
    assert len(rows(p.database, "SELECT title FROM post")) == 2


def test_column_rename_shim_shows_the_old_column_name(any_project: Project) -> None:
    p = any_project
    models(p)
    ok(p, "makemigrations")
    ok(p, "migrate")
    execute(p.database, "INSERT INTO post (title) VALUES ('before')")

    models(p, column="headline")
    ok(p, "makemigrations", "--compat")
    name = p.migration_files()[-1]
    rename = p.load_migration("app", name)
    assert rename["operations"] == [
        {"kind": "RenameColumn", "table": "post", "from": "title", "to": "headline",
         "compat": True}
    ]  # fmt: skip
    ok(p, "migrate")

    # N-1 reads and writes `title` through post_compat; N uses `headline` on post.
    execute(
        p.database,
        "INSERT INTO post_compat (title) VALUES ('from N-1')",
        "INSERT INTO post (headline) VALUES ('from N')",
        "UPDATE post_compat SET title = 'edited by N-1' WHERE title = 'before'",
    )
    expected = ["edited by N-1", "from N", "from N-1"]
    assert sorted(t for (t,) in rows(p.database, "SELECT headline FROM post")) == expected
    assert sorted(t for (t,) in rows(p.database, "SELECT title FROM post_compat")) == expected

    assert ok(p, "makemigrations", "--drop-compat", "post_compat") == [
        "Wrote migrations/app/0003_drop_compat_post_compat.json"
    ]
    ok(p, "migrate")
    assert "post_compat" not in relations(p)
    assert p.run("checkschema").code == 0
    assert sorted(t for (t,) in rows(p.database, "SELECT headline FROM post")) == expected


def test_rename_without_a_shim_is_a_warning_naming_the_flag(project: Project) -> None:
    p = project
    models(p)
    ok(p, "makemigrations")
    ok(p, "migrate")
    models(p, kw=', table="article"')
    ok(p, "makemigrations")
    check = p.run("checkmigrations")
    assert check.code == 0, check
    assert "(unless renamed with `umbral makemigrations --compat`, which leaves" in check.stdout
    assert "WARNING (1):" in check.stdout


@pytest.mark.parametrize("name", ["nope"])
def test_drop_compat_of_an_unknown_shim_is_an_error(project: Project, name: str) -> None:
    p = project
    models(p)
    ok(p, "makemigrations")
    r = p.run("makemigrations", "--drop-compat", name)
    assert r.code == 1, r
    assert r.err_lines == [
        "error: umbral makemigrations --drop-compat: no live compatibility shim named 'nope' "
        "(live: none); `umbral checkmigrations` lists them"
    ]
    assert p.migration_files() == ["0001_create_post.json"]


def test_an_empty_database_gets_the_live_views_of_its_history(any_project: Project) -> None:
    """The fast path builds the snapshots' tables, not their compatibility views: a plugin
    whose snapshot keeps one replays, so an empty database gets the view a database migrated
    step by step has (it used to be left out, checkmigrations still listing it as live)."""
    p = any_project
    models(p)
    ok(p, "makemigrations")
    models(p, column="headline")
    ok(p, "makemigrations", "--compat")
    p.models(
        POST.format(kw="", column="headline") + "\nclass Tag(Model):\n    label = fields.Text()\n"
    )
    ok(p, "makemigrations")
    plan = ok(p, "migrate", "--plan")
    assert plan[0] == (
        "Path: replay: the database is empty, but app/0003_create_tag keeps compatibility "
        "view(s) post_compat, which the snapshots do not build"
    ), plan
    assert ok(p, "migrate") == ["Applied 3 migration(s)"]
    assert {"post", "post_compat", "tag"} <= relations(p)
    assert rows(p.database, "SELECT COUNT(*) FROM post_compat") == [(0,)]


#: Changes to a table whose column shim is live (``Post.title`` renamed to ``headline``; ``n``
#: beside it), each breaking its view on some backend: PostgreSQL refused the drop or the type
#: change at migrate, SQLite's write-through triggers failed, MySQL and MariaDB left the view
#: naming what is gone.
N = "n = fields.Integer(nullable=True)"
BREAKING = {
    "drop column": ("", "headline = fields.Text()"),
    "rename column": ("", "headline = fields.Text()\n    m = fields.Integer(nullable=True)"),
    "change type": ("", "headline = fields.Text()\n    n = fields.BigInt(nullable=True)"),
    "rename table": (', table="article"', "headline = fields.Text()\n    " + N),
    "drop table": None,
}  # fmt: skip


def shimmed(p: Project, kw: str = "", body: str = "") -> None:
    p.models(f"class Post(Model{kw}):\n    {body}\n")


@pytest.mark.parametrize("change", sorted(BREAKING))
def test_a_change_that_breaks_a_live_shim_waits_for_its_drop(
    any_project: Project, change: str
) -> None:
    p = any_project
    shimmed(p, body="title = fields.Text()\n    " + N)
    ok(p, "makemigrations")
    shimmed(p, body="headline = fields.Text()\n    " + N)
    ok(p, "makemigrations", "--compat")
    ok(p, "migrate")
    files = lambda: {k: v for k, v in p.tree().items() if k.startswith("migrations")}  # noqa: E731
    before = files()
    if BREAKING[change] is None:
        p.models("class Other(Model):\n    name = fields.Text()\n")
    else:
        shimmed(p, *BREAKING[change])
    r = p.run("makemigrations")
    assert r.code == 1, r
    assert len(r.err_lines) == 1 and r.err_lines[0].startswith("error: umbral makemigrations"), r
    assert r.err_lines[0].endswith(
        ": compatibility view post_compat of post is live and reads it; run `umbral "
        "makemigrations --drop-compat post_compat` and migrate first (once the previous "
        "release is gone), or leave post as it is until then"
    ), r
    assert files() == before  # nothing written
    # The way out it names: drop the shim, then the change is made and runs.
    ok(p, "makemigrations", "--drop-compat", "post_compat")
    ok(p, "makemigrations")
    ok(p, "migrate", "--allow-destructive")
    assert "post_compat" not in relations(p)
    assert ok(p, "checkschema")[0].startswith("No schema drift")


def test_a_column_the_live_shim_does_not_read_may_change(any_project: Project) -> None:
    """The view reads the table's columns as they were when it was made: one added since
    may be dropped while it lives, and a change of nullability breaks nothing."""
    p = any_project
    models(p)
    ok(p, "makemigrations")
    models(p, column="headline")
    ok(p, "makemigrations", "--compat")
    p.models(POST.format(kw="", column="headline") + "    extra = fields.Text(nullable=True)\n")
    ok(p, "makemigrations")
    ok(p, "migrate")
    p.models(
        "class Post(Model):\n    headline = fields.Text()\n"
        '    status = fields.Text(default="draft", nullable=True)\n'
    )
    ok(p, "makemigrations")
    ok(p, "migrate", "--allow-destructive")
    assert "post_compat" in relations(p)
    execute(p.database, "INSERT INTO post_compat (title) VALUES ('through the shim')")
    assert rows(p.database, "SELECT headline, status FROM post") == [("through the shim", "draft")]
    # A new default would not reach the view's writes: it waits for the shim's drop too.
    p.models(
        'class Post(Model):\n    headline = fields.Text()\n    status = fields.Text(default="x")\n'
    )
    r = p.run("makemigrations")
    assert r.code == 1, r
    assert (
        "compatibility view post_compat of post is live and fills the column with the default "
        "it was made with"
    ) in r.stderr, r
    # So would an auto_now_add it gains (SQLite's trigger fills in what it was made with).
    p.models(
        "class Post(Model):\n    headline = fields.Text()\n"
        "    status = fields.Timestamp(auto_now_add=True, nullable=True)\n"
    )
    assert p.run("makemigrations").code == 1


def test_a_name_a_live_shim_holds_is_not_given_to_another_table(project: Project) -> None:
    """A live shim's view has a name: a new table (or a rename) to it would fail at migrate
    ("already exists"), as would a compat view named as a table of the models."""
    p = project
    models(p)
    ok(p, "makemigrations")
    models(p, kw=', table="article"')
    ok(p, "makemigrations", "--compat")
    p.models(POST.format(kw=', table="article"', column="title") + LEGACY.format(table="post"))
    r = p.run("makemigrations")
    assert r.code == 1, r
    assert r.err_lines == [
        "error: umbral makemigrations (app): Create table post: compatibility view post of "
        "article is live and has that name; run `umbral makemigrations --drop-compat post` and "
        "migrate first (once the previous release is gone), or choose another name"
    ], r
    article = POST.format(kw=', table="article"', column="title")
    p.models(article + LEGACY.format(table="legacy"))
    ok(p, "makemigrations")
    renamed = LEGACY.format(table="legacy").replace("note =", "text =")
    p.models(article + renamed + LEGACY.format(table="legacy_compat").replace("Legacy", "Other"))
    r = p.run("makemigrations", "--compat")
    assert r.code == 1, r
    assert r.err_lines[-1].endswith(
        "its compatibility view would be legacy_compat, the name of a table or view of the "
        "models; rename without --compat, or give that model another table="
    ), r
    assert len(p.migration_files()) == 3


LEGACY = """
class Legacy(Model, table="{table}"):
    note = fields.Text()
"""


@pytest.mark.parametrize("shim", ["table", "column"])
def test_going_back_past_a_shims_drop_remakes_it_as_it_was_made(
    any_project: Project, shim: str
) -> None:
    """Un-applying ``--drop-compat`` re-creates the view over the columns it had when made,
    not the table's columns of that moment: a column added while it lived is dropped by the
    next migration un-applied, which the view must not read (PostgreSQL refused the drop,
    SQLite's trigger failed it, MySQL left the view naming it)."""
    p = any_project
    models(p)
    ok(p, "makemigrations")
    kw, column, name = (', table="article"', "title", "post") if shim == "table" else (
        "", "headline", "post_compat")  # fmt: skip
    models(p, kw=kw, column=column)
    ok(p, "makemigrations", "--compat")
    p.models(POST.format(kw=kw, column=column) + "    views = fields.Integer(default=0)\n")
    ok(p, "makemigrations")
    ok(p, "makemigrations", "--drop-compat", name)
    ok(p, "migrate")
    second = p.migration_files()[1].removesuffix(".json")
    ok(p, "migrate", f"app/{second}", "--allow-destructive")
    assert name in relations(p)
    execute(p.database, f"INSERT INTO {name} (title) VALUES ('through the shim')")
    assert rows(p.database, f"SELECT title, status FROM {name}") == [("through the shim", "draft")]
    ok(p, "migrate", "app/zero", "--allow-destructive")
    ok(p, "migrate")
    assert name not in relations(p)
    assert ok(p, "checkschema")[0].startswith("No schema drift")


def test_a_squash_holds_both_ends_of_a_shims_life_or_neither(project: Project) -> None:
    p = project
    models(p)
    ok(p, "makemigrations")
    models(p, kw=', table="article"')
    ok(p, "makemigrations", "--compat")
    article = POST.format(kw=', table="article"', column="title")
    p.models(article + "    n = fields.Integer(nullable=True)\n")
    ok(p, "makemigrations")
    ok(p, "makemigrations", "--drop-compat", "post")
    names = [n.removesuffix(".json") for n in p.migration_files()]
    r = p.run("squashmigrations", "app", "--to", names[2])
    assert r.code == 1, r
    assert r.err_lines[0].endswith(
        "the range creates compatibility shim(s) post, live at its end; squash a range that "
        "also holds the drop (`makemigrations --drop-compat`), or a range without them"
    ), r
    r = p.run("squashmigrations", "app", "--from", names[2])
    assert r.code == 1, r
    assert r.err_lines[0].endswith(
        "the range drops compatibility shim(s) post, made before it; squash a range that also "
        "holds the rename that made them, or a range without them"
    ), r
    ok(p, "squashmigrations", "app")
    ok(p, "migrate")
    assert "post" not in relations(p) and "article" in relations(p)


def test_two_renames_of_one_run_whose_shims_collide_are_told_apart(project: Project) -> None:
    """One run renames `post` away and another table to `post`: the second rename's shim
    (view `other` of `post`) is the first rename's table. Refused, without naming a live shim
    to drop (there is none yet); and a compat view whose name is too long is warned about."""
    p = project
    p.models(POST.format(kw="", column="title") + LEGACY.format(table="other"))
    ok(p, "makemigrations")
    p.models(POST.format(kw=', table="article"', column="title") + LEGACY.format(table="post"))
    r = p.run("makemigrations", "--compat")
    assert r.code == 1, r
    assert r.err_lines[-1].endswith(
        "compatibility view other of post, which another rename of this migration leaves, "
        "reads it; make the renames in migrations of their own, or without --compat"
    ), r
    long = "w" * 60
    p.models(POST.format(kw=f', table="{long}"', column="title") + LEGACY.format(table="other"))
    ok(p, "makemigrations")
    p.models(POST.format(kw=f', table="{long}"', column="headline") + LEGACY.format(table="other"))
    r = p.run("makemigrations", "--compat")
    assert r.code == 0, r
    assert (
        f"warning: umbral makemigrations: compatibility view name `{long}_compat` is 67 bytes "
        "long, more than postgres (63 bytes), mysql (64 characters) keeps: give it a shorter "
        "name to use that database"
    ) in r.err_lines, r
