"""Two branches of one plugin's history and ``makemigrations --merge`` (SPEC §5), end to end."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Project, execute, rows, schema_of

POST = "class Post(Model):\n    title = fields.Text()\n"
LEFT = POST + "    summary = fields.Text(nullable=True)\n"
RIGHT = POST + "    views = fields.Integer(default=0)\n"
BOTH = POST + "    summary = fields.Text(nullable=True)\n    views = fields.Integer(default=0)\n"
A, B = "0002_add_post_summary", "0002_add_post_views"


def make(p: Project, body: str, *args: str) -> list[str]:
    p.models(body)
    r = p.run("makemigrations", *args)
    assert r.code == 0, r
    return r.out_lines


def migration_path(p: Project, name: str) -> Path:
    return (p.root / "migrations" / "app" / f"{name}.json").resolve()


def branches(
    p: Project,
    left: str = LEFT,
    right: str = RIGHT,
    *,
    apply_left: bool = False,
    names: tuple[str, str] | None = None,
) -> None:
    """0001 applied; then each branch runs makemigrations without seeing the other's file.

    The left branch's file is moved out of the migrations directory while the right branch
    runs makemigrations, then put back, as a VCS merge of the two branches would. The models
    end up with both changes.
    """
    assert make(p, POST) == ["Wrote migrations/app/0001_create_post.json"]
    assert p.run("migrate").code == 0
    left_args, right_args = (("--name", n) for n in names) if names else ((), ())
    left_file = next(line for line in make(p, left, *left_args) if line.startswith("Wrote"))
    left_name = left_file.rsplit("/", 1)[1]
    if apply_left:
        assert p.run("migrate").code == 0
    aside = p.root.parent / left_name
    (p.root / "migrations/app" / left_name).rename(aside)
    make(p, right, *right_args)
    aside.rename(p.root / "migrations/app" / left_name)
    p.models(BOTH)


def conflict_error(p: Project, left: str = A, right: str = B) -> str:
    return (
        f"error: plugin `app` has two migrations with sequence 0002: {migration_path(p, left)} "
        f"and {migration_path(p, right)}; if two branches each ran makemigrations, run "
        "`umbral makemigrations --merge`, otherwise renumber one of them"
    )


def recorded(p: Project) -> list[str]:
    return sorted(name for (name,) in rows(p.database, "SELECT name FROM umbral_migrations"))


def test_branches_conflict_until_merged(any_project: Project) -> None:
    p = any_project
    branches(p)
    assert p.migration_files() == ["0001_create_post.json", f"{A}.json", f"{B}.json"]
    before = (p.tree(), schema_of(p.database), recorded(p))

    # makemigrations and migrate refuse, naming both files and the way out.
    for args in (("makemigrations",), ("migrate",), ("migrate", "--plan"), ("checkmigrations",)):
        r = p.run(*args)
        assert (r.code, r.stdout) == (1, ""), r
        assert r.err_lines == [conflict_error(p)], r
    assert (p.tree(), schema_of(p.database), recorded(p)) == before

    # showmigrations still lists everything and reports the conflict, but exits 0.
    r = p.run("showmigrations")
    assert r.code == 0, r
    assert r.out_lines == [
        "# plugin: app",
        "[X] app/0001_create_post",
        f"[ ] app/{A}",
        f"[ ] app/{B}",
        "",
        "2 migration(s) not yet applied.",
    ]
    assert r.err_lines == [
        f"error: plugin `app` has conflicting migrations {migration_path(p, A)} and "
        f"{migration_path(p, B)}: both are leaves of its graph (two branches each ran "
        "makemigrations); run `umbral makemigrations --merge` to write a merge migration that "
        "depends on both"
    ]
    assert json.loads(p.run("showmigrations", "--json").stdout)["not_applied"] == 2

    # The merge migration depends on both leaves, runs nothing, and carries both changes.
    r = p.run("makemigrations", "--merge")
    assert (r.code, r.out_lines, r.stderr) == (
        0,
        ["Wrote migrations/app/0003_merge.json (merge)"],
        "",
    ), r
    merge = p.load_migration("app", "0003_merge.json")
    assert merge["id"] == "0003_merge"
    assert merge["depends_on"] == [f"app/{A}", f"app/{B}"]
    assert merge["operations"] == []
    (model,) = merge["snapshot_after"]["models"]
    assert [c["name"] for c in model["fields"]] == ["id", "title", "summary", "views"]
    # The merged snapshot is exactly what the merged models declare.
    assert p.run("makemigrations").out_lines == ["no changes detected"]
    assert p.run("makemigrations", "--merge").out_lines == ["no conflicts to merge"]

    r = p.run("migrate")
    assert (r.code, r.out_lines, r.stderr) == (0, ["Applied 3 migration(s)"], ""), r
    assert recorded(p) == ["0001_create_post", A, B, "0003_merge"]
    assert [c[0] for c in schema_of(p.database)["post"]["columns"]] == [
        "id",
        "title",
        "summary",
        "views",
    ]
    r = p.run("showmigrations")
    assert (r.code, r.stderr) == (0, ""), r
    assert r.out_lines == [
        "# plugin: app",
        "[X] app/0001_create_post",
        f"[X] app/{A}",
        f"[X] app/{B}",
        "[X] app/0003_merge",
    ]

    # History continues after the merge.
    assert make(p, BOTH + "    slug = fields.Text(nullable=True)\n") == [
        "Wrote migrations/app/0004_add_post_slug.json"
    ]
    assert p.load_migration("app", "0004_add_post_slug.json")["depends_on"] == ["app/0003_merge"]


def test_merge_after_one_branch_was_deployed(project: Project) -> None:
    p = project
    branches(p, apply_left=True)
    assert recorded(p) == ["0001_create_post", A]
    assert p.run("migrate").code == 1
    assert p.run("makemigrations", "--merge").code == 0
    r = p.run("migrate")
    assert (r.code, r.out_lines, r.stderr) == (0, ["Applied 2 migration(s)"], ""), r
    assert recorded(p) == ["0001_create_post", A, B, "0003_merge"]
    assert [c[0] for c in schema_of(p.database)["post"]["columns"]] == [
        "id",
        "title",
        "summary",
        "views",
    ]


def test_leaves_with_different_sequence_numbers_also_conflict(project: Project) -> None:
    p = project
    branches(p)
    # One branch renumbered its file by hand: no shared sequence, still two leaves.
    data = json.loads(migration_path(p, B).read_text())
    data["id"] = "0003_add_post_views"
    (p.root / "migrations/app/0003_add_post_views.json").write_text(json.dumps(data, indent=2))
    migration_path(p, B).unlink()
    message = (
        f"error: plugin `app` has conflicting migrations {migration_path(p, A)} and "
        f"{migration_path(p, '0003_add_post_views')}: both are leaves of its graph (two branches "
        "each ran makemigrations); run `umbral makemigrations --merge` to write a merge "
        "migration that depends on both"
    )
    for args in (("makemigrations",), ("migrate",)):
        r = p.run(*args)
        assert (r.code, r.err_lines) == (1, [message]), r
    r = p.run("makemigrations", "--merge")
    assert r.out_lines == ["Wrote migrations/app/0004_merge.json (merge)"], r
    assert p.load_migration("app", "0004_merge.json")["depends_on"] == [
        f"app/{A}",
        "app/0003_add_post_views",
    ]
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 3 migration(s)"]), r


def test_a_conflicting_merge_is_refused(project: Project) -> None:
    p = project
    branches(
        p,
        POST.replace("fields.Text()", 'fields.Text(default="untitled")', 1),
        POST.replace("fields.Text()", 'fields.Text(default="draft")', 1),
        names=("left", "right"),
    )
    assert p.migration_files() == ["0001_create_post.json", "0002_left.json", "0002_right.json"]
    before = p.tree()
    r = p.run("makemigrations", "--merge")
    assert r.code == 1, r
    assert r.stdout == ""
    assert r.err_lines == [
        "error: umbral makemigrations --merge: cannot merge `app`: the branches conflict: both "
        "branches changed `Post.title` differently (see 0002_left and 0002_right). Change one "
        "branch so they agree (or delete its migration and run makemigrations again on top of "
        "the other), then merge again"
    ]
    assert p.tree() == before


def test_merge_without_a_conflict(project: Project) -> None:
    p = project
    make(p, POST)
    make(p, LEFT)
    before = p.tree()
    r = p.run("makemigrations", "--merge")
    assert (r.code, r.out_lines, r.stderr) == (0, ["no conflicts to merge"], ""), r
    assert p.tree() == before
    r = p.run("makemigrations", "--merge")
    assert r.out_lines == ["no conflicts to merge"]


def test_a_branch_runs_on_tables_the_other_branch_changed_first(any_project: Project) -> None:
    """The right branch's change rebuilds `post` on SQLite (and restates the column on MySQL):
    run after the left branch, it keeps the column the left branch added, and its rows."""
    p = any_project
    right = POST.replace("fields.Text()", "fields.Text(nullable=True)", 1)
    branches(p, right=right, apply_left=True, names=("left", "right"))
    p.models(LEFT.replace("fields.Text()", "fields.Text(nullable=True)", 1))
    execute(p.database, "INSERT INTO post (id, title, summary) VALUES (1, 't', 's')")
    assert p.run("makemigrations", "--merge").code == 0
    assert p.run("makemigrations").out_lines == ["no changes detected"]
    r = p.run("migrate")
    assert (r.code, r.out_lines, r.stderr) == (0, ["Applied 2 migration(s)"], ""), r
    assert rows(p.database, "SELECT id, title, summary FROM post") == [(1, "t", "s")]
    title = [c for c in schema_of(p.database)["post"]["columns"] if c[0] == "title"]
    assert title[0][2] is True  # nullable, as the right branch made it
    # Back before both branches (each undone while the other's change stands) and forward.
    r = p.run("migrate", "app/0001_create_post", "--allow-destructive", "--allow-irreversible")
    assert r.code == 0, r
    columns = schema_of(p.database)["post"]["columns"]
    assert [(c[0], c[2]) for c in columns[1:]] == [("title", False)], columns
    assert rows(p.database, "SELECT id, title FROM post") == [(1, "t")]
    assert p.run("migrate").code == 0
    assert sorted(c[0] for c in schema_of(p.database)["post"]["columns"]) == [
        "id", "summary", "title"
    ]  # fmt: skip


MERGE_REFUSED = "error: umbral makemigrations --merge: cannot merge `app`: the branches conflict: "
AGREE = (
    ". Change one branch so they agree (or delete its migration and run makemigrations again "
    "on top of the other), then merge again"
)


def test_a_merge_of_a_renamed_table_and_a_change_to_it_is_refused(project: Project) -> None:
    p = project
    renamed = POST.replace("(Model):", '(Model, table="article"):', 1)
    branches(p, renamed, RIGHT, names=("left", "right"))
    before = p.tree()
    r = p.run("makemigrations", "--merge")
    assert (r.code, r.stdout) == (1, ""), r
    assert r.err_lines == [
        MERGE_REFUSED
        + "0002_left renames table `post`, which 0002_right still names (Add column views to "
        "post); a database that ran 0002_left first could not run 0002_right" + AGREE
    ]
    assert p.tree() == before


def test_a_merge_of_a_new_foreign_key_to_a_renamed_table_is_refused(project: Project) -> None:
    p = project
    renamed = POST.replace("(Model):", '(Model, table="article"):', 1)
    tag = "class Tag(Model):\n    post = fields.ForeignKey(Post, nullable=True)\n"
    branches(p, renamed, POST + tag, names=("left", "right"))
    r = p.run("makemigrations", "--merge")
    assert (r.code, r.stdout) == (1, ""), r
    assert len(r.err_lines) == 1, r
    line = r.err_lines[0]
    assert line.startswith(MERGE_REFUSED + "0002_left renames table `post`, which 0002_right "
                           "still names (Create table tag"), line  # fmt: skip
    assert line.endswith("a database that ran 0002_left first could not run 0002_right" + AGREE)


def test_a_model_dropped_while_the_other_branch_renames_its_target_merges(
    any_project: Project,
) -> None:
    """The other branch's snapshot shows the dropped model pointing at the new name: that
    alone is no change of it, so the drop wins (Django's merge takes both the same way)."""
    p = any_project
    tag = "class Tag(Model):\n    post = fields.ForeignKey(Post, nullable=True)\n"
    renamed = POST.replace("(Model):", '(Model, table="article"):', 1)
    make(p, POST + tag)
    assert p.run("migrate").code == 0
    execute(
        p.database, "INSERT INTO post (title) VALUES ('a')", "INSERT INTO tag (post) VALUES (1)"
    )
    make(p, POST, "--name", "left")  # drops Tag
    aside = p.root.parent / "0002_left.json"
    migration_path(p, "0002_left").rename(aside)
    make(p, renamed + tag, "--name", "right")  # renames post
    aside.rename(migration_path(p, "0002_left"))
    p.models(renamed)

    r = p.run("makemigrations", "--merge")
    assert r.code == 0, r
    assert r.out_lines == ["Wrote migrations/app/0003_merge.json (merge)"], r
    r = p.run("migrate", "--allow-destructive")
    assert r.code == 0, r
    assert recorded(p) == ["0001_initial", "0002_left", "0002_right", "0003_merge"]
    assert rows(p.database, "SELECT id, title FROM article") == [(1, "a")]
    assert "tag" not in schema_of(p.database)
    assert p.run("makemigrations", "--check").code == 0
    r = p.run("checkschema")
    assert r.code == 0, r


def test_a_merge_of_the_same_change_on_both_branches_is_refused(project: Project) -> None:
    p = project
    branches(p, LEFT, LEFT, names=("left", "right"))
    r = p.run("makemigrations", "--merge")
    assert (r.code, r.stdout) == (1, ""), r
    assert r.err_lines == [
        MERGE_REFUSED + "both branches change model `Post` the same way (see 0002_left and "
        "0002_right); the second to run would make the change again" + AGREE
    ]


def test_a_merge_after_a_branch_of_two_migrations_resolves_the_sequence(project: Project) -> None:
    """The left branch has 0002 and 0003; the merge depends on 0003 and the right's 0002:
    the two files numbered 0002 are resolved by it too."""
    p = project
    branches(p, names=("left", "right"))
    p.models(LEFT + "    slug = fields.Text(nullable=True)\n")
    aside = p.root.parent / "0002_right.json"
    migration_path(p, "0002_right").rename(aside)
    assert make(p, LEFT + "    slug = fields.Text(nullable=True)\n", "--name", "left2") == [
        "Wrote migrations/app/0003_left2.json"
    ]
    aside.rename(migration_path(p, "0002_right"))
    p.models(BOTH + "    slug = fields.Text(nullable=True)\n")
    r = p.run("makemigrations", "--merge")
    assert r.out_lines == ["Wrote migrations/app/0004_merge.json (merge)"], r
    assert p.load_migration("app", "0004_merge.json")["depends_on"] == [
        "app/0002_right", "app/0003_left2"
    ]  # fmt: skip
    assert p.run("makemigrations").out_lines == ["no changes detected"]
    r = p.run("migrate")
    assert (r.code, r.out_lines, r.stderr) == (0, ["Applied 4 migration(s)"], ""), r
    assert p.run("migrate", "app/0001_create_post", "--allow-destructive",
                 "--allow-irreversible").code == 0  # fmt: skip
    assert p.run("migrate").code == 0


def test_a_merge_of_a_view_and_a_rename_of_what_it_selects_is_refused(project: Project) -> None:
    p = project
    renamed = POST.replace("title =", "headline =", 1)
    view = (
        'class PostTitles(Model, view="SELECT id, title FROM post"):\n    title = fields.Text()\n'
    )
    branches(p, renamed, POST + view, names=("left", "right"))
    r = p.run("makemigrations", "--merge")
    assert (r.code, r.stdout) == (1, ""), r
    assert len(r.err_lines) == 1, r
    assert r.err_lines[0].startswith(
        MERGE_REFUSED + "0002_left renames column `post.title`, which 0002_right still names "
        "(Create view post_titles"
    ), r


def test_a_merge_of_one_new_model_made_two_ways_names_it(project: Project) -> None:
    p = project
    branches(p, POST + "class Comment(Model):\n    text = fields.Text()\n",
             POST + "class Comment(Model):\n    body = fields.Text()\n",
             names=("left", "right"))  # fmt: skip
    r = p.run("makemigrations", "--merge")
    assert (r.code, r.stdout) == (1, ""), r
    assert r.err_lines == [
        MERGE_REFUSED
        + "both branches add a model `Comment`, differently (see 0002_left and 0002_right)"
        + AGREE
    ]


def test_checkschema_with_both_branches_applied_and_not_their_merge(any_project: Project) -> None:
    """Back to one branch's migration, the merge is undone and both branches stay: the
    database holds both changes, and checkschema compares it with both."""
    p = any_project
    left = POST.replace("fields.Text()", "fields.Text(nullable=True)", 1)
    branches(p, left, RIGHT, names=("left", "right"))
    p.models(BOTH.replace("fields.Text()", "fields.Text(nullable=True)", 1))
    assert p.run("makemigrations", "--merge").code == 0
    assert p.run("migrate").code == 0
    assert p.run("migrate", "app/0002_left").code == 0
    assert recorded(p) == ["0001_create_post", "0002_left", "0002_right"]
    r = p.run("checkschema")
    assert (r.code, r.stderr) == (0, ""), r
    r = p.run("checkschema", "--json")
    assert json.loads(r.stdout)["plugins"] == [
        {"plugin": "app", "migration": "app/0002_left + app/0002_right"}
    ], r


def test_a_merge_of_two_renames_of_one_column_does_not_call_them_the_same(
    project: Project,
) -> None:
    """Both branches rename `title`, to two names: the column is gone on both sides, which is
    not "the same change" (the renames are named by their operations)."""
    p = project
    left = POST.replace("title =", "heading =", 1)
    right = POST.replace("title =", "name =", 1)
    branches(p, left, right, names=("left", "right"))
    before = p.tree()
    r = p.run("makemigrations", "--merge")
    assert (r.code, r.stdout) == (1, ""), r
    assert r.err_lines == [
        MERGE_REFUSED
        + "0002_left renames column `post.title`, which 0002_right still names (Rename column "
        "title of post to name); a database that ran 0002_left first could not run 0002_right; "
        "0002_right renames column `post.title`, which 0002_left still names (Rename column "
        "title of post to heading); a database that ran 0002_right first could not run "
        "0002_left; both branches drop or rename `Post.title` (see 0002_left and 0002_right); "
        "the second to run would not find it" + AGREE
    ]
    assert p.tree() == before


def test_a_merge_of_two_renames_of_one_model_does_not_call_them_the_same(
    project: Project,
) -> None:
    p = project
    branches(
        p, POST.replace("class Post", "class Article"), POST.replace("class Post", "class Entry"),
        names=("left", "right"),
    )  # fmt: skip
    r = p.run("makemigrations", "--merge")
    assert (r.code, r.stdout) == (1, ""), r
    assert len(r.err_lines) == 1, r
    assert "both branches drop or rename model `Post` (see 0002_left and 0002_right); the " \
        "second to run would not find it" in r.err_lines[0], r  # fmt: skip
    assert "the same way" not in r.err_lines[0], r
