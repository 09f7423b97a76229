"""``squashmigrations`` and how ``migrate`` treats a squash (SPEC §5), against real databases."""

from __future__ import annotations

import json

import pytest

from conftest import Project, execute, is_mysql, rows, schema_of

POST = "class Post(Model):\n    title = fields.Text()\n"
ORIGINALS = ["0001_create_post", "0002_add_post_slug", "0003_add_post_views"]
REPLACES = [f"app/{name}" for name in ORIGINALS]
SQUASH = "0001_squashed_0003"
#: What `migrate` prints when it records the squash over its applied originals: no SQL runs.
RECORDED = f"Recorded app/{SQUASH} (no SQL: it replaces migrations applied before it)"


def make(p: Project, body: str, *args: str) -> None:
    p.models(body)
    r = p.run("makemigrations", *args)
    assert r.code == 0, r


def history(p: Project) -> str:
    """Three migrations of `post`: create, add a nullable column, add one with a default."""
    body = POST
    make(p, body)
    body += "    slug = fields.Text(nullable=True)\n"
    make(p, body)
    body += "    views = fields.Integer(default=0)\n"
    make(p, body)
    assert p.migration_files() == [f"{name}.json" for name in ORIGINALS]
    return body


def squash(p: Project, *args: str) -> None:
    r = p.run("squashmigrations", "app", *args)
    assert r.code == 0, r


def recorded(p: Project) -> list[tuple[str, str]]:
    return sorted(rows(p.database, "SELECT plugin, name FROM umbral_migrations"))


def user_tables(url: str) -> dict:
    return {t: v for t, v in schema_of(url).items() if t != "umbral_migrations"}


def delete(p: Project, *names: str, plugin: str = "app") -> None:
    for name in names:
        (p.root / "migrations" / plugin / f"{name}.json").unlink()


# -- refusals: exit 1, the reason, nothing written ---------------------------------------------


def refused(p: Project, *args: str) -> str:
    before = p.tree()
    r = p.run("squashmigrations", "app", *args)
    assert r.code == 1, r
    assert r.stdout == ""
    assert len(r.err_lines) == 1, r
    assert p.tree() == before
    return r.err_lines[0]


def test_refuses_fewer_than_two_migrations(project: Project) -> None:
    p = project
    make(p, POST)
    assert refused(p) == (
        "error: umbral squashmigrations: can't squash `app`: need at least 2 migrations to "
        "squash, found 1"
    )
    make(p, POST + "    slug = fields.Text(nullable=True)\n")
    assert refused(p, "--from", "0002_add_post_slug") == (
        "error: umbral squashmigrations: can't squash `app`: need at least 2 migrations to "
        "squash, found 1"
    )
    assert refused(p, "--from", "0002_add_post_slug", "--to", "0001_create_post").endswith(
        "--to 0001_create_post comes before --from 0002_add_post_slug: give the range in order"
    )


def test_refuses_unknown_from_and_to(project: Project) -> None:
    p = project
    history(p)
    known = ", ".join(ORIGINALS)
    assert refused(p, "--from", "0009_nope") == (
        "error: umbral squashmigrations: can't squash `app`: --from 0009_nope: no such migration "
        f"(known: {known})"
    )
    assert refused(p, "--to", "0003") == (
        "error: umbral squashmigrations: can't squash `app`: --to 0003: no such migration "
        f"(known: {known})"
    )


def test_refuses_an_unknown_plugin(project: Project) -> None:
    p = project
    history(p)
    before = p.tree()
    r = p.run("squashmigrations", "shop")
    assert r.code == 1, r
    assert (r.stdout, r.err_lines) == ("", ["error: no plugin named `shop`; known plugins: app"])
    assert p.tree() == before


def add_run_sql(p: Project, **extra: object) -> None:
    """A hand-written data migration between 0001 and 0002 (``makemigrations --empty``)."""
    make(p, POST)
    r = p.run("makemigrations", "--empty", "app", "--name", "backfill")
    assert r.code == 0, r
    path = p.root / "migrations/app/0002_backfill.json"
    data = json.loads(path.read_text())
    data["operations"] = [{"kind": "RunSql", "sql": "UPDATE post SET title = 'x'", **extra}]
    path.write_text(json.dumps(data, indent=2) + "\n")
    make(p, POST + "    slug = fields.Text(nullable=True)\n")
    assert p.migration_files() == [
        "0001_create_post.json",
        "0002_backfill.json",
        "0003_add_post_slug.json",
    ]


def test_refuses_run_sql_in_the_range(project: Project) -> None:
    p = project
    add_run_sql(p)
    assert refused(p) == (
        "error: umbral squashmigrations: can't squash `app`: app/0002_backfill contains RunSql, "
        'which a schema diff cannot reproduce; mark it "elidable": true if the squash may drop '
        "it, or squash a range without it"
    )
    assert refused(p, "--to", "0002_backfill").startswith(
        "error: umbral squashmigrations: can't squash `app`: app/0002_backfill contains RunSql"
    )
    # A range that leaves the RunSql out can be squashed.
    make(p, POST + "    slug = fields.Text(nullable=True)\n    views = fields.Integer(default=0)\n")
    squash(p, "--from", "0003_add_post_slug")
    data = p.load_migration("app", "0003_squashed_0004.json")
    assert data["depends_on"] == ["app/0002_backfill"]
    assert [op["kind"] for op in data["operations"]] == ["AddColumn", "AddColumn"]


def test_elidable_run_sql_is_dropped_by_the_squash(project: Project) -> None:
    p = project
    add_run_sql(p, elidable=True)
    squash(p)
    data = p.load_migration("app", f"{SQUASH}.json")
    assert data["replaces"] == [
        "app/0001_create_post",
        "app/0002_backfill",
        "app/0003_add_post_slug",
    ]
    assert [op["kind"] for op in data["operations"]] == ["CreateTable"]


def test_refuses_a_nested_squash(project: Project) -> None:
    p = project
    body = history(p)
    squash(p)
    body += "    rank = fields.Integer(default=0)\n"
    make(p, body)
    make(p, body + "    score = fields.Integer(default=0)\n")
    assert p.load_migration("app", "0004_add_post_rank.json")["depends_on"] == [f"app/{SQUASH}"]
    nested = (
        "error: umbral squashmigrations: can't squash `app`: the range includes the squash "
        f"{SQUASH}; nested squashing is not supported: squash only the migrations after it "
        "(--from)"
    )
    assert refused(p) == nested
    assert refused(p, "--to", "0004_add_post_rank") == nested
    # An original the squash replaces is not in the history any more: said so.
    assert refused(p, "--from", "0002_add_post_slug") == (
        "error: umbral squashmigrations: can't squash `app`: --from 0002_add_post_slug: the "
        f"squash {SQUASH} replaces it; name a migration of the history as it stands (known: "
        f"{SQUASH}, 0004_add_post_rank, 0005_add_post_score)"
    )
    # The migrations after the squash can be squashed on their own.
    squash(p, "--from", "0004_add_post_rank")
    data = p.load_migration("app", "0004_squashed_0005.json")
    assert data["replaces"] == ["app/0004_add_post_rank", "app/0005_add_post_score"]
    assert data["depends_on"] == [f"app/{SQUASH}"]
    assert [op["kind"] for op in data["operations"]] == ["AddColumn", "AddColumn"]
    # A fresh database runs the two squashes, one after the other.
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 2 migration(s)"]), r
    assert recorded(p) == [("app", SQUASH), ("app", "0004_squashed_0005")]
    assert [c[0] for c in schema_of(p.database)["post"]["columns"]][-2:] == ["rank", "score"]


# -- the squash file ------------------------------------------------------------------------


def test_the_squash_file(project: Project) -> None:
    p = project
    history(p)
    r = p.run("squashmigrations", "app")
    assert r.code == 0, r
    assert r.out_lines == [
        f"Squashed 3 migrations for `app` into {SQUASH}",
        f"  wrote migrations/app/{SQUASH}.json",
        f"  replaces: {', '.join(REPLACES)}",
        "The originals are kept; delete them once every database you deploy to has applied the "
        "squash or the migrations it replaces.",
    ]
    assert p.migration_files() == [f"{n}.json" for n in (ORIGINALS[0], SQUASH, *ORIGINALS[1:])]
    data = p.load_migration("app", f"{SQUASH}.json")
    last = p.load_migration("app", "0003_add_post_views.json")
    assert data["id"] == SQUASH
    assert data["plugin"] == "app"
    assert data["replaces"] == REPLACES
    assert data["depends_on"] == []
    assert data["snapshot_after"] == last["snapshot_after"]
    assert [op["kind"] for op in data["operations"]] == ["CreateTable"]
    assert [c["name"] for c in data["operations"][0]["columns"]] == ["id", "title", "slug", "views"]
    # The originals are kept as they were, and the models need no new migration.
    assert p.run("makemigrations").out_lines == ["no changes detected"]


def test_a_partial_range_depends_on_what_comes_before_it(project: Project) -> None:
    p = project
    history(p)
    squash(p, "--from", "0002_add_post_slug")
    data = p.load_migration("app", "0002_squashed_0003.json")
    assert data["replaces"] == REPLACES[1:]
    assert data["depends_on"] == ["app/0001_create_post"]
    assert [op["kind"] for op in data["operations"]] == ["AddColumn", "AddColumn"]


# -- how migrate treats a squash --------------------------------------------------------------


def test_all_replaced_applied_records_the_squash_without_sql(any_project: Project) -> None:
    p = any_project
    history(p)
    assert p.run("migrate").code == 0
    execute(p.database, "INSERT INTO post (title, slug) VALUES ('kept', 's')")
    before = user_tables(p.database)
    squash(p)

    r = p.run("showmigrations")
    assert f"[X] app/{SQUASH}" in r.out_lines
    r = p.run("checkmigrations")
    assert (r.code, r.out_lines) == (0, ["No pending migrations — nothing to check."]), r
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, [RECORDED]), r
    assert recorded(p) == sorted([("app", n) for n in (*ORIGINALS, SQUASH)])
    # No SQL ran: re-creating `post` would have failed, and the row is still there.
    assert user_tables(p.database) == before
    assert rows(p.database, "SELECT title, slug, views FROM post") == [("kept", "s", 0)]
    assert p.run("migrate").out_lines == ["No pending migrations"]


def test_a_record_only_squash_is_not_destructive(any_project: Project) -> None:
    p = any_project
    body = POST + "    legacy = fields.Text(nullable=True)\n"
    make(p, body)
    make(p, POST)
    make(p, POST + "    views = fields.Integer(default=0)\n")
    assert p.run("migrate", "--allow-destructive").code == 0
    squash(p, "--from", "0002_drop_post_legacy")
    ops = p.load_migration("app", "0002_squashed_0003.json")["operations"]
    assert [op["kind"] for op in ops] == ["DropColumn", "AddColumn"]
    # Its replaced migrations all ran, so none of its operations run: nothing to refuse.
    r = p.run("checkmigrations")
    assert (r.code, r.out_lines) == (0, ["No pending migrations — nothing to check."]), r
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, [RECORDED.replace(SQUASH, "0002_squashed_0003")]), r
    assert ("app", "0002_squashed_0003") in recorded(p)


def test_none_applied_runs_only_the_squash(any_project: Project) -> None:
    p = any_project
    history(p)
    assert p.run("migrate").code == 0
    unsquashed = user_tables(p.database)
    execute(p.database, "DROP TABLE post", "DROP TABLE umbral_migrations")
    assert schema_of(p.database) == {}
    squash(p)

    r = p.run("migrate", "--plan", "--replay")
    assert r.code == 0, r
    assert [line for line in r.out_lines if not line.startswith(("Path:", " "))] == [
        f"Apply app/{SQUASH}"
    ]
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r
    assert recorded(p) == [("app", SQUASH)]
    assert user_tables(p.database) == unsquashed
    r = p.run("showmigrations")
    assert (r.code, r.out_lines) == (
        0,
        ["# plugin: app", *(f"[X] app/{n}" for n in (ORIGINALS[0], SQUASH, *ORIGINALS[1:]))],
    ), r
    assert p.run("migrate").out_lines == ["No pending migrations"]


def test_half_applied_runs_the_remaining_originals(any_project: Project) -> None:
    p = any_project
    history(p)
    assert p.run("migrate", "app/0001_create_post").code == 0
    squash(p)
    r = p.run("migrate", "--plan")
    assert [line for line in r.out_lines if not line.startswith(" ")] == [
        "Apply app/0002_add_post_slug",
        "Apply app/0003_add_post_views",
        f"Record app/{SQUASH} (no SQL: it replaces migrations applied before it)",
    ]
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 2 migration(s)"]), r
    assert [c[0] for c in schema_of(p.database)["post"]["columns"]] == [
        "id",
        "title",
        "slug",
        "views",
    ]
    assert set(REPLACES) <= {f"{a}/{b}" for a, b in recorded(p)}
    assert all(line.startswith("[X]") for line in p.run("showmigrations").out_lines[1:])


def test_half_applied_with_a_replaced_original_missing_is_refused(any_project: Project) -> None:
    p = any_project
    history(p)
    assert p.run("migrate", "app/0001_create_post").code == 0
    squash(p)
    delete(p, "0002_add_post_slug")
    before = (schema_of(p.database), recorded(p))
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: umbral migrate: squash app/{SQUASH} is half-applied and its replaced "
        "migration(s) app/0002_add_post_slug are missing from disk; restore those files so the "
        "remaining ones can run"
    ]
    assert (schema_of(p.database), recorded(p)) == before


def test_originals_deleted_after_the_squash_is_recorded(any_project: Project) -> None:
    p = any_project
    body = history(p)
    assert p.run("migrate").code == 0
    squash(p)
    assert p.run("migrate").out_lines == [RECORDED]
    delete(p, *ORIGINALS)

    r = p.run("showmigrations")
    assert (r.code, r.out_lines, r.stderr) == (0, ["# plugin: app", f"[X] app/{SQUASH}"], ""), r
    r = p.run("migrate")
    assert (r.code, r.out_lines, r.stderr) == (0, ["No pending migrations"], ""), r
    assert p.run("makemigrations").out_lines == ["no changes detected"]

    make(p, body + "    rank = fields.Integer(default=0)\n")
    assert p.migration_files() == [f"{SQUASH}.json", "0004_add_post_rank.json"]
    assert p.load_migration("app", "0004_add_post_rank.json")["depends_on"] == [f"app/{SQUASH}"]
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r
    assert "rank" in [c[0] for c in schema_of(p.database)["post"]["columns"]]


def test_originals_deleted_before_a_database_that_ran_them_records_the_squash(
    any_project: Project,
) -> None:
    """The docs allow deleting the originals once every database has applied the squash or
    the migrations it replaces: a database that ran the originals but not yet the migrate
    that records the squash saw their rows as drift (`[!]`), and migrate refused, pointing
    at a --prune that found nothing to prune."""
    p = any_project
    history(p)
    assert p.run("migrate").code == 0
    squash(p)
    delete(p, *ORIGINALS)
    r = p.run("showmigrations")
    assert (r.code, r.out_lines, r.stderr) == (0, ["# plugin: app", f"[X] app/{SQUASH}"], ""), r
    r = p.run("migrate")
    assert (r.code, r.stderr) == (0, ""), r
    assert ("app", SQUASH) in recorded(p)
    assert p.run("migrate").out_lines == ["No pending migrations"]


SHOP = """
from umbral import Model, fields, hookimpl


class Item(Model, plugin="shop"):
    name = fields.Text()
{extra}

@hookimpl
def umbral_models():
    return [Item]
"""


@pytest.mark.parametrize("originals", ["kept", "deleted"])
def test_a_dependency_on_a_replaced_migration_follows_the_squash(
    any_project: Project, originals: str
) -> None:
    p = any_project
    p.write_config(plugin_modules={"shop": "shop"}, plugins=["shop"])
    p.write("shop.py", SHOP.format(extra=""))
    p.models("")
    assert p.run("makemigrations").code == 0
    p.write("shop.py", SHOP.format(extra="    sku = fields.Text(nullable=True)\n"))
    make(p, 'class Order(Model):\n    item = fields.ForeignKey("shop.Item")\n')
    assert p.migration_files("shop") == [
        "0001_create_shop_item.json",
        "0002_add_shop_item_sku.json",
    ]
    assert p.load_migration("app", "0001_create_order.json")["depends_on"] == [
        "shop/0002_add_shop_item_sku"
    ]
    r = p.run("squashmigrations", "shop")
    assert r.code == 0, r
    if originals == "deleted":
        delete(p, "0001_create_shop_item", "0002_add_shop_item_sku", plugin="shop")

    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 2 migration(s)"]), r
    if is_mysql(p.database):
        pytest.skip("MySQL keeps no insertion order of the tracking rows to check")
    order = "rowid" if p.database.startswith("sqlite") else "xmin::text::bigint"
    assert rows(p.database, f"SELECT plugin, name FROM umbral_migrations ORDER BY {order}") == [
        ("shop", "0001_squashed_0002"),
        ("app", "0001_create_order"),
    ]
    tables = schema_of(p.database)
    assert tables["order"]["fks"] == [(("item",), "shop_item")]
    assert [c[0] for c in tables["shop_item"]["columns"]] == ["id", "name", "sku"]


def test_a_target_inside_a_squash_is_reached(project: Project) -> None:
    p = project
    history(p)
    squash(p)
    # On a fresh database the squash runs instead of the originals, so it reaches the target.
    r = p.run("migrate", "app/0003_add_post_views")
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r
    assert recorded(p) == [("app", SQUASH)]
    assert [c[0] for c in schema_of(p.database)["post"]["columns"]] == [
        "id",
        "title",
        "slug",
        "views",
    ]


# -- backward across a recorded squash: one schema change, un-applied once --------------------


def squashed_over_originals(p: Project) -> dict:
    """The originals applied, then the squash recorded over them, a row in `post`; returns the
    tables as they were after the first original."""
    history(p)
    assert p.run("migrate", "app/0001_create_post").code == 0
    first = user_tables(p.database)
    assert p.run("migrate").code == 0
    squash(p)
    assert p.run("migrate").out_lines == [RECORDED]
    execute(p.database, "INSERT INTO post (title, slug, views) VALUES ('kept', 's', 7)")
    return first


def test_back_to_zero_over_recorded_originals_drops_each_table_once(
    any_project: Project,
) -> None:
    p = any_project
    squashed_over_originals(p)
    r = p.run("migrate", "app/zero", "--plan", "--allow-destructive")
    assert r.code == 0, r
    assert [line for line in r.out_lines if not line.startswith("    ")] == [
        f"Unrecord app/{SQUASH} (no SQL: its replaced migrations are un-applied one by one)",
        *(f"Unapply app/{name}" for name in reversed(ORIGINALS)),
    ], r
    r = p.run("migrate", "app/zero", "--allow-destructive")
    assert (r.code, r.out_lines) == (0, ["Unapplied 3 migration(s)"]), r
    assert recorded(p) == [] and user_tables(p.database) == {}
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r  # the squash alone
    assert recorded(p) == [("app", SQUASH)]


def test_a_target_inside_a_recorded_squash_is_reached_by_its_originals(
    any_project: Project,
) -> None:
    p = any_project
    first = squashed_over_originals(p)
    r = p.run("migrate", "app/0001_create_post", "--allow-destructive")
    assert (r.code, r.out_lines) == (0, ["Unapplied 2 migration(s)"]), r
    assert recorded(p) == [("app", "0001_create_post")]
    assert user_tables(p.database) == first
    assert rows(p.database, "SELECT title FROM post") == [("kept",)]
    r = p.run("showmigrations")
    assert r.out_lines[1:5] == [
        "[X] app/0001_create_post",
        f"[ ] app/{SQUASH}",
        "[ ] app/0002_add_post_slug",
        "[ ] app/0003_add_post_views",
    ], r
    # Forward again: the remaining originals run and the squash is recorded after them.
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 2 migration(s)"]), r
    assert recorded(p) == sorted([("app", n) for n in (*ORIGINALS, SQUASH)])
    assert p.run("checkschema").code == 0


def test_a_squash_applied_whole_is_un_applied_whole(any_project: Project) -> None:
    p = any_project
    history(p)
    squash(p)
    assert p.run("migrate").out_lines == ["Applied 1 migration(s)"]  # the squash alone
    before = p.tree()
    r = p.run("migrate", "app/0001_create_post", "--allow-destructive")
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: umbral migrate app/0001_create_post: it is one of the migrations squash "
        f"app/{SQUASH} replaces, and this database applied that squash as a whole, so it can "
        "only be un-applied whole; migrate back past the squash, then forward to "
        "app/0001_create_post"
    ], r
    assert p.tree() == before and recorded(p) == [("app", SQUASH)]
    r = p.run("migrate", "app/zero", "--allow-destructive")
    assert (r.code, r.out_lines) == (0, ["Unapplied 1 migration(s)"]), r
    assert recorded(p) == [] and user_tables(p.database) == {}


def test_back_to_zero_after_the_originals_were_deleted(any_project: Project) -> None:
    p = any_project
    squashed_over_originals(p)
    delete(p, *ORIGINALS)
    r = p.run("migrate", "app/zero", "--plan", "--allow-destructive")
    assert [line for line in r.out_lines if not line.startswith("    ")] == [
        *(f"Unrecord app/{name} (no SQL: un-applied with app/{SQUASH})"
          for name in reversed(ORIGINALS)),
        f"Unapply app/{SQUASH}",
    ], r  # fmt: skip
    r = p.run("migrate", "app/zero", "--allow-destructive")
    assert (r.code, r.out_lines) == (0, ["Unapplied 1 migration(s)"]), r
    assert recorded(p) == [] and user_tables(p.database) == {}


def test_a_target_before_the_end_of_an_unapplied_squash_runs_the_originals(
    any_project: Project,
) -> None:
    """The squash would go past the target: its originals run instead, up to the target."""
    p = any_project
    history(p)
    squash(p)
    r = p.run("migrate", "app/0002_add_post_slug", "--plan")
    assert [line for line in r.out_lines if not line.startswith("    ")] == [
        "Path: fast path: the database is empty; the schema of app/0002_add_post_slug is built "
        "from the snapshots and 2 migration(s) are recorded in one transaction",
        "Build app at app/0002_add_post_slug",
        "Record app/0001_create_post (no SQL: built from the snapshots)",
        "Record app/0002_add_post_slug (no SQL: built from the snapshots)",
    ], r
    r = p.run("migrate", "app/0002_add_post_slug")
    assert (r.code, r.out_lines) == (0, ["Applied 2 migration(s)"]), r
    assert recorded(p) == [("app", "0001_create_post"), ("app", "0002_add_post_slug")]
    assert [c[0] for c in schema_of(p.database)["post"]["columns"]] == ["id", "title", "slug"]
    # The rest: the last original, then the squash recorded over them.
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r
    assert recorded(p) == sorted([("app", n) for n in (*ORIGINALS, SQUASH)])


def test_a_target_inside_a_squash_whose_originals_are_gone_is_refused(project: Project) -> None:
    p = project
    history(p)
    squash(p)
    delete(p, "0001_create_post")
    r = p.run("migrate", "app/0002_add_post_slug")
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: umbral migrate app/0002_add_post_slug: it is one of the migrations squash "
        f"app/{SQUASH} replaces, and app/0001_create_post of those before it are missing from "
        f"disk, so the run cannot stop there; migrate to app/{SQUASH} instead, or restore the "
        "files"
    ], r


def test_a_squash_that_would_rename_a_table_under_another_plugin_is_refused(
    any_project: Project,
) -> None:
    # app/0001's foreign key names shop_item, as shop/0002 left it; a squash of shop up to its
    # rename would run before app/0001 on a replay and make only shop_goods.
    p = any_project
    p.write_config(plugin_modules={"shop": "shop"}, plugins=["shop"])
    p.write("shop.py", SHOP.format(extra=""))
    p.models("")
    assert p.run("makemigrations").code == 0
    p.write("shop.py", SHOP.format(extra="    sku = fields.Text(nullable=True)\n"))
    make(p, 'class Order(Model):\n    item = fields.ForeignKey("shop.Item")\n')
    renamed = SHOP.replace('plugin="shop"', 'plugin="shop", table="shop_goods"')
    p.write("shop.py", renamed.format(extra="    sku = fields.Text(nullable=True)\n"))
    assert p.run("makemigrations").code == 0
    p.write(
        "shop.py",
        renamed.format(
            extra="    sku = fields.Text(nullable=True)\n    n = fields.Integer(default=0)\n"
        ),
    )
    assert p.run("makemigrations").code == 0
    assert p.migration_files("shop") == [
        "0001_create_shop_item.json",
        "0002_add_shop_item_sku.json",
        "0003_rename_shop_item_to_shop_goods.json",
        "0004_add_shop_goods_n.json",
    ]
    r = p.run("squashmigrations", "shop")
    assert (r.code, r.err_lines) == (
        1,
        [
            "error: umbral squashmigrations: can't squash `shop`: app/0001_create_order depends "
            "on shop/0002_add_shop_item_sku, and shop/0003_rename_shop_item_to_shop_goods "
            "renames shop_item to shop_goods after it: replayed from zero, app/0001_create_order "
            "would run after the squash, which makes only the new name; squash a range that "
            "ends before 0003_rename_shop_item_to_shop_goods or starts after it"
        ],
    ), r
    assert len(p.migration_files("shop")) == 4  # nothing written
    r = p.run("squashmigrations", "shop", "--to", "0002_add_shop_item_sku")
    assert r.code == 0, r
    r = p.run("migrate")
    assert r.code == 0, r
    assert schema_of(p.database)["order"]["fks"] == [(("item",), "shop_goods")]


SHOP_TWO = """
from umbral import Model, fields, hookimpl


class Item(Model, plugin="shop"{item}):
{item_body}

class Misc(Model, plugin="shop"{misc}):
    label = fields.Text()
{misc_extra}

@hookimpl
def umbral_models():
    return [{models}]
"""


def shop_two(
    *, item: str = "", item_body: str = "    name = fields.Text()\n", misc: str = "",
    misc_extra: str = "", models: str = "Item, Misc",
) -> str:  # fmt: skip
    return SHOP_TWO.format(
        item=item, item_body=item_body, misc=misc, misc_extra=misc_extra, models=models
    )


def two_plugin_project(p: Project, **shop: str) -> None:
    p.write_config(plugin_modules={"shop": "shop"}, plugins=["shop"])
    p.write("shop.py", shop_two(**shop))
    p.models('class Order(Model):\n    item = fields.ForeignKey("shop.Item", nullable=True)\n')
    assert p.run("makemigrations").code == 0


def test_a_rename_of_a_table_no_other_plugin_names_may_be_squashed(any_project: Project) -> None:
    p = any_project
    two_plugin_project(p)
    p.write("shop.py", shop_two(misc_extra="    n = fields.Integer(default=0)\n"))
    assert p.run("makemigrations").code == 0
    p.write(
        "shop.py",
        shop_two(misc=', table="misc2"', misc_extra="    n = fields.Integer(default=0)\n"),
    )
    assert p.run("makemigrations").code == 0
    r = p.run("squashmigrations", "shop")
    assert r.code == 0, r
    r = p.run("migrate")
    assert r.code == 0, r
    assert schema_of(p.database)["order"]["fks"] == [(("item",), "shop_item")]


def test_a_squash_that_would_rename_a_key_column_under_another_plugin_is_refused(
    any_project: Project,
) -> None:
    p = any_project
    pk = "    code = fields.BigInt(primary_key=True)\n"
    two_plugin_project(p, item_body=pk)
    p.write("shop.py", shop_two(item_body=pk, misc_extra="    n = fields.Integer(default=0)\n"))
    assert p.run("makemigrations").code == 0
    renamed = pk.replace("code", "ref")
    p.write(
        "shop.py", shop_two(item_body=renamed, misc_extra="    n = fields.Integer(default=0)\n")
    )
    r = p.run("makemigrations")
    assert r.code == 0, r
    shop = p.migration_files("shop")
    assert shop[-1] == "0003_rename_shop_item_code_to_ref.json", shop
    r = p.run("squashmigrations", "shop")
    assert r.code == 1, r
    assert r.err_lines[0].startswith(
        "error: umbral squashmigrations: can't squash `shop`: app/0001_create_order depends on "
        "shop/0001_initial, and shop/0003_rename_shop_item_code_to_ref renames "
        "shop_item.code to ref after it"
    ), r
    assert p.migration_files("shop") == shop  # nothing written


def test_a_squash_that_would_depend_on_itself_is_refused(any_project: Project) -> None:
    # shop drops Item after app drops its key to it: shop/0002 depends on app/0002, which
    # follows app/0001, which depends on shop/0001. A squash of shop/0001..0003 would depend on
    # app/0002 and app/0002 (through app/0001) on it.
    p = any_project
    two_plugin_project(p)
    p.write("shop.py", shop_two(models="Misc").replace("class Item", "class Unused"))
    p.models("class Order(Model):\n    note = fields.Text(nullable=True)\n")
    r = p.run("makemigrations")
    assert r.code == 0, r
    p.write(
        "shop.py",
        shop_two(models="Misc", misc_extra="    n = fields.Integer(default=0)\n").replace(
            "class Item", "class Unused"
        ),
    )
    assert p.run("makemigrations").code == 0
    shop = p.migration_files("shop")
    assert len(shop) == 3, shop
    drop = shop[1].removesuffix(".json")
    assert (
        f"app/{p.migration_files()[1].removesuffix('.json')}"
        in p.load_migration("shop", shop[1])["depends_on"]
    )
    r = p.run("squashmigrations", "shop")
    assert r.code == 1, r
    assert "the squash would depend on itself" in r.err_lines[0], r
    r = p.run("squashmigrations", "shop", "--from", drop)
    assert r.code == 0, r
    r = p.run("migrate", "--allow-destructive")
    assert r.code == 0, r
    assert "shop_item" not in schema_of(p.database)


def test_originals_deleted_under_a_half_applied_squash_say_which_files_it_needs(
    project: Project,
) -> None:
    """The rows of the originals read as drift, and the refusal offered --prune, which found
    nothing to prune: the way out was only shown behind --allow-drift."""
    p = project
    history(p)
    assert p.run("migrate", f"app/{ORIGINALS[1]}").code == 0
    squash(p)
    delete(p, *ORIGINALS)
    r = p.run("migrate")
    assert r.code == 1, r
    assert "drift" not in r.stderr and "--prune" not in r.stderr, r
    assert f"app/{ORIGINALS[2]}" in r.err_lines[0] and "restore" in r.err_lines[0], r


WIDE = "class Post(Model):\n    heading = fields.Text(max_length=40)\n"


def test_a_range_that_renames_a_column_and_then_changes_it_is_squashed(
    any_project: Project,
) -> None:
    """A column renamed in the range and widened after the rename: the squash renames it and
    widens it (the diff of the snapshots alone saw a dropped column and a NOT NULL one added,
    and refused). A database that ran the migration before the range runs the squash and keeps
    its rows, goes back across it once the originals are deleted, and forward again."""
    p = any_project
    make(p, "class Post(Model):\n    title = fields.Text(max_length=20)\n")
    fresh = p.database
    assert p.run("migrate").code == 0
    execute(fresh, "INSERT INTO post (id, title) VALUES (1, 'hello')")
    make(p, "class Post(Model):\n    heading = fields.Text(max_length=20)\n")
    make(p, WIDE)
    make(p, WIDE + "    n = fields.Integer(default=0)\n")
    names = [f.removesuffix(".json") for f in p.migration_files()]
    r = p.run("squashmigrations", "app", "--from", names[1], "--to", names[2])
    assert r.code == 0, r
    squash = next(f for f in p.migration_files() if "_squashed_" in f)
    ops = json.loads((p.root / "migrations/app" / squash).read_text())["operations"]
    assert [(op["kind"], op.get("from"), op.get("to")) for op in ops[:1]] == [
        ("RenameColumn", "title", "heading")
    ]
    assert [op["kind"] for op in ops] == ["RenameColumn", "AlterColumn"]
    r = p.run("migrate")
    assert (r.code, r.stderr) == (0, ""), r
    assert rows(fresh, "SELECT id, heading, n FROM post") == [(1, "hello", 0)]
    assert p.run("checkschema").code == 0
    assert ("app", squash.removesuffix(".json")) in recorded(p)
    # Back before the squash and forward again, with the originals deleted.
    for name in names[1:3]:
        (p.root / "migrations/app" / f"{name}.json").unlink()
    r = p.run("migrate", f"app/{names[0]}", "--allow-destructive")
    assert r.code == 0, r
    assert rows(fresh, "SELECT id, title FROM post") == [(1, "hello")]
    assert p.run("migrate").code == 0
    assert rows(fresh, "SELECT id, heading, n FROM post") == [(1, "hello", 0)]
    assert p.run("checkschema").code == 0
    assert p.run("makemigrations").out_lines == ["no changes detected"]
