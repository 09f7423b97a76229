"""Drift between the tracking table and the files (SPEC §8, §9), on every backend."""

from __future__ import annotations

import json

from conftest import Project, backend_name, execute, is_mysql, rows, schema_of

LETTERS = "abcd"


def history(p: Project, n: int) -> list[str]:
    """Write ``0001_create_post`` and then one ``add_post_<letter>`` migration per step."""
    body = "class Post(Model):\n    title = fields.Text()\n"
    p.models(body)
    assert p.run("makemigrations").code == 0
    for letter in LETTERS[: n - 1]:
        body += f"    {letter} = fields.Text(nullable=True)\n"
        p.models(body)
        r = p.run("makemigrations")
        assert r.code == 0, r
    return [f.removesuffix(".json") for f in p.migration_files()]


def recorded(p: Project) -> list[tuple[str, str]]:
    if "umbral_migrations" not in schema_of(p.database):
        return []
    return sorted(rows(p.database, "SELECT plugin, name FROM umbral_migrations"))


def edit(p: Project, name: str) -> None:
    """Change an applied file's content (a help text on the added column)."""
    path = p.root / "migrations" / "app" / f"{name}.json"
    data = json.loads(path.read_text())
    data["operations"][0]["column"]["help"] = "edited by hand"
    path.write_text(json.dumps(data, indent=2))


def state(p: Project) -> tuple[dict, list]:
    """The user tables and the tracking rows (an empty tracking table may be created)."""
    tables = {t: v for t, v in schema_of(p.database).items() if t != "umbral_migrations"}
    return tables, recorded(p)


def test_showmigrations_shows_all_five_states(any_project: Project) -> None:
    p = any_project
    names = history(p, 5)
    assert names == [
        "0001_create_post",
        "0002_add_post_a",
        "0003_add_post_b",
        "0004_add_post_c",
        "0005_add_post_d",
    ]
    r = p.run("migrate", "app/0001_create_post")
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r
    for name in ("0003_add_post_b", "0004_add_post_c"):
        r = p.run("migrate", "--fake", f"app/{name}")
        assert (r.code, r.out_lines) == (0, [f"Marked app/{name} as applied (no SQL executed)"])
    edit(p, "0003_add_post_b")
    (p.root / "migrations/app/0004_add_post_c.json").unlink()

    r = p.run("showmigrations")
    assert r.code == 0, r
    assert r.out_lines == [
        "# plugin: app",
        "[X] app/0001_create_post",
        "[?] app/0002_add_post_a",
        "[~] app/0003_add_post_b",
        "[!] app/0004_add_post_c",
        "[ ] app/0005_add_post_d",
        "",
        "2 migration(s) not yet applied.",
    ]
    r = p.run("showmigrations", "--json")
    assert r.code == 0, r
    data = json.loads(r.stdout)
    assert [(m["name"], m["marker"]) for m in data["migrations"]] == [
        ("0001_create_post", "[X]"),
        ("0002_add_post_a", "[?]"),
        ("0003_add_post_b", "[~]"),
        ("0004_add_post_c", "[!]"),
        ("0005_add_post_d", "[ ]"),
    ]
    assert {m["plugin"] for m in data["migrations"]} == {"app"}
    assert data["not_applied"] == 2


def test_showmigrations_footer_only_when_something_is_pending(any_project: Project) -> None:
    p = any_project
    history(p, 2)
    r = p.run("showmigrations")
    assert r.out_lines == [
        "# plugin: app",
        "[ ] app/0001_create_post",
        "[ ] app/0002_add_post_a",
        "",
        "2 migration(s) not yet applied.",
    ]
    assert p.run("migrate").code == 0
    r = p.run("showmigrations")
    assert r.out_lines == ["# plugin: app", "[X] app/0001_create_post", "[X] app/0002_add_post_a"]
    assert json.loads(p.run("showmigrations", "--json").stdout)["not_applied"] == 0


def test_missing_file_blocks_migrate_and_allow_drift_proceeds(any_project: Project) -> None:
    p = any_project
    history(p, 3)
    assert p.run("migrate", "app/0002_add_post_a").code == 0
    (p.root / "migrations/app/0002_add_post_a.json").unlink()
    before = state(p)
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.out_lines == []
    assert r.err_lines == [
        "error: umbral migrate: drift detected",
        "The following migrations are in the tracking table but missing on disk:",
        "[!] app/0002_add_post_a",
        "",
        "Options:",
        "1. Restore the file(s) from VCS.",
        "2. Run `umbral migrate --allow-drift` to proceed and apply pending migrations.",
        "3. Run `umbral migrate --prune` to delete the tracking rows of the [!] migrations "
        "(the schema is not touched).",
    ]
    assert state(p) == before

    r = p.run("migrate", "--allow-drift")
    assert r.code == 0, r
    assert r.out_lines == ["Applied 1 migration(s)"]
    assert r.err_lines == [
        "warning: umbral migrate --allow-drift: migration app/0002_add_post_a is recorded in "
        "the tracking table but the file is missing from disk; proceeding."
    ]
    # The orphan row stays; the pending migration ran.
    assert recorded(p) == [
        ("app", "0001_create_post"),
        ("app", "0002_add_post_a"),
        ("app", "0003_add_post_b"),
    ]
    assert [c[0] for c in schema_of(p.database)["post"]["columns"]] == ["id", "title", "a", "b"]


def test_edited_file_blocks_migrate_until_refaked(any_project: Project) -> None:
    p = any_project
    history(p, 3)
    assert p.run("migrate", "app/0002_add_post_a").code == 0
    edit(p, "0002_add_post_a")
    r = p.run("showmigrations")
    assert "[~] app/0002_add_post_a" in r.out_lines
    before = state(p)
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines[:4] == [
        "error: umbral migrate: drift detected",
        "The following migrations were edited after they were applied (checksum differs "
        "from the tracking table):",
        "[~] app/0002_add_post_a",
        "",
    ]
    assert "Options:" in r.err_lines
    assert state(p) == before

    r = p.run("migrate", "--fake", "app/0002_add_post_a")
    assert r.code == 0, r
    assert r.out_lines == [
        "Re-recorded app/0002_add_post_a with its current checksum (no SQL executed)"
    ]
    assert "[X] app/0002_add_post_a" in p.run("showmigrations").out_lines
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r


def test_fake_records_without_running_sql(any_project: Project) -> None:
    p = any_project
    history(p, 3)
    assert p.run("migrate", "app/0002_add_post_a").code == 0
    r = p.run("migrate", "--fake", "app/0003_add_post_b")
    assert r.code == 0, r
    assert r.out_lines == ["Marked app/0003_add_post_b as applied (no SQL executed)"]
    assert ("app", "0003_add_post_b") in recorded(p)
    assert [c[0] for c in schema_of(p.database)["post"]["columns"]] == ["id", "title", "a"]
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["No pending migrations"])


def test_fake_plan_says_what_it_would_record_and_records_nothing(any_project: Project) -> None:
    p = any_project
    history(p, 3)
    assert p.run("migrate", "app/0002_add_post_a").code == 0
    before = recorded(p)
    r = p.run("migrate", "--fake", "app/0003_add_post_b", "--plan")
    assert (r.code, r.out_lines) == (
        0,
        ["Record app/0003_add_post_b as applied (no SQL: --fake)"],
    ), r
    assert recorded(p) == before
    edit(p, "0002_add_post_a")
    r = p.run("migrate", "--fake", "app/0002_add_post_a", "--plan")
    assert (r.code, r.out_lines) == (
        0,
        ["Re-record app/0002_add_post_a with its current checksum (no SQL)"],
    ), r
    assert "[~] app/0002_add_post_a" in p.run("showmigrations").out_lines
    r = p.run("migrate", "--fake", "app/0001_create_post", "--plan")
    assert r.out_lines == ["app/0001_create_post is already applied (nothing to do)"], r
    assert recorded(p) == before


def test_out_of_order_file_is_applied_after_a_warning(any_project: Project) -> None:
    p = any_project
    history(p, 3)
    assert p.run("migrate", "app/0001_create_post").code == 0
    assert p.run("migrate", "--fake", "app/0003_add_post_b").code == 0
    assert "[?] app/0002_add_post_a" in p.run("showmigrations").out_lines
    r = p.run("migrate")
    assert r.code == 0, r
    assert r.out_lines == ["Applied 1 migration(s)"]
    assert r.err_lines == [
        "warning: umbral migrate: migration app/0002_add_post_a is on disk but appears before "
        "the last applied migration of its plugin; applying it out of order"
    ]
    assert [c[0] for c in schema_of(p.database)["post"]["columns"]] == ["id", "title", "a"]
    assert "[X] app/0002_add_post_a" in p.run("showmigrations").out_lines


SHOP = """
from umbral import Model, fields, hookimpl


class Item(Model, plugin="shop"):
    name = fields.Text()
    price = fields.Integer(nullable=True)


@hookimpl
def umbral_models():
    return [Item]
"""


def adopt_project(p: Project) -> None:
    """shop's table already exists in the database; app's does not."""
    p.write_config(plugins=["shop"], plugin_modules={"shop": "shop"})
    p.write("shop.py", SHOP)
    p.models("class Post(Model):\n    title = fields.Text()\n")
    assert p.run("makemigrations").code == 0


def legacy_item_ddl(url: str, price: str = "INTEGER") -> str:
    pk = {
        "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "postgres": "BIGSERIAL PRIMARY KEY",
        "mysql": "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
    }[backend_name(url)]
    return f"CREATE TABLE shop_item (id {pk}, name TEXT NOT NULL, price {price})"


def test_fake_initial_adopts_matching_tables_and_applies_the_rest(any_project: Project) -> None:
    p = any_project
    adopt_project(p)
    execute(p.database, legacy_item_ddl(p.database), "INSERT INTO shop_item (name) VALUES ('old')")
    p.write("shop.py", SHOP.replace("    price", "    sku = fields.Text(nullable=True)\n    price"))
    r = p.run("makemigrations")
    assert r.out_lines == ["Wrote migrations/shop/0002_add_shop_item_sku.json"], r

    r = p.run("migrate")  # without --fake-initial the CREATE TABLE fails and is rolled back
    assert r.code == 1, r
    # MySQL runs a migration with DDL statement by statement: its failure names the statement.
    failed = "failed at statement 1 of 1" if is_mysql(p.database) else "failed and was rolled back"
    assert r.err_lines[0].startswith(
        f"error: umbral migrate: migration shop/0001_create_shop_item {failed}"
    )
    assert recorded(p) == []

    r = p.run("migrate", "--fake-initial")
    assert r.code == 0, r
    assert r.out_lines == [
        "Fake-applied initial migration for 1 plugin(s)",
        "Applied 2 migration(s)",
    ]
    assert recorded(p) == [
        ("app", "0001_create_post"),
        ("shop", "0001_create_shop_item"),
        ("shop", "0002_add_shop_item_sku"),
    ]
    assert rows(p.database, "SELECT name, sku FROM shop_item") == [("old", None)]
    assert "post" in schema_of(p.database)


def test_fake_initial_refuses_a_table_that_differs(any_project: Project) -> None:
    p = any_project
    adopt_project(p)
    execute(p.database, legacy_item_ddl(p.database, price="TEXT NOT NULL"))
    before = state(p)
    r = p.run("migrate", "--fake-initial")
    assert r.code == 1, r
    assert r.err_lines[0] == (
        "error: umbral migrate --fake-initial: existing tables do not match the initial "
        "migration; nothing was recorded"
    )
    details = "\n".join(r.err_lines[1:])
    assert "shop/0001_create_shop_item" in details
    assert "shop_item.price: database column is not NULL" in details
    assert "shop_item.price: database type" in details
    assert state(p) == before


def test_fake_initial_skips_plugins_whose_tables_are_absent(any_project: Project) -> None:
    p = any_project
    adopt_project(p)
    r = p.run("migrate", "--fake-initial")
    assert r.code == 0, r
    assert r.out_lines == [
        "Fake-applied initial migration for 0 plugin(s)",
        "Applied 2 migration(s)",
    ]
    assert sorted(schema_of(p.database)) == ["post", "shop_item", "umbral_migrations"]


def test_showmigrations_tells_where_the_database_stands_without_importing_models(
    project: Project,
) -> None:
    """showmigrations reads the files and the tracking table only: a plugin whose models no
    longer import (a half-finished edit) does not hide the state; commands that need the models
    still report it."""
    p = project
    p.write_config(plugins=["shop"], plugin_modules={"shop": "shop_plugin"})
    p.write(
        "shop_plugin.py",
        """
        from umbral import hookimpl


        @hookimpl
        def umbral_models():
            from shop_models import Item

            return [Item]
        """,
    )
    p.write(
        "shop_models.py",
        """
        from umbral import Model, fields


        class Item(Model, plugin="shop"):
            name = fields.Text()
        """,
    )
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    p.write("shop_models.py", "raise RuntimeError('half-edited models')\n")
    r = p.run("showmigrations")
    assert (r.code, r.out_lines) == (0, ["# plugin: shop", "[X] shop/0001_create_shop_item"]), r
    r = p.run("makemigrations", "--check")
    assert r.code == 1, r
    assert "half-edited models" in r.stderr


def test_checkmigrations_refuses_drift_as_migrate_does(any_project: Project) -> None:
    """A CI gate on checkmigrations must not pass a deploy whose migrate refuses: an applied
    file edited or deleted fails the check with migrate's own list and ways out."""
    p = any_project
    names = history(p, 3)
    assert p.run("migrate", f"app/{names[1]}").code == 0
    edit(p, names[1])
    expected = [
        "The following migrations were edited after they were applied (checksum differs from "
        "the tracking table):",
        f"[~] app/{names[1]}",
        "",
        "Options:",
        "1. Restore the file(s) from VCS.",
        "2. Run `umbral migrate --allow-drift` to proceed and apply pending migrations.",
        "3. Run `umbral migrate --fake <plugin/name>` to re-record an edited migration with its "
        "current checksum.",
    ]
    migrate = p.run("migrate")
    assert migrate.code == 1 and migrate.err_lines[1:] == expected, migrate
    for args in ([], ["--json"], ["--strict"]):
        r = p.run("checkmigrations", *args)
        assert (r.code, r.stdout) == (1, ""), r
        assert r.err_lines == [
            "error: umbral checkmigrations: drift detected",
            *expected,
            "4. Run `umbral checkmigrations --allow-drift` to check the pending migrations anyway.",
        ], r
    # Allowed, as migrate --allow-drift allows it, the pending migration is checked.
    r = p.run("checkmigrations", "--allow-drift")
    assert r.code == 0, r
    assert r.out_lines[0] == "Checking 1 operation(s) across 1 pending migration(s)...", r
    r = p.run("checkmigrations", "--offline", "--allow-drift")
    assert r.code == 2 and "--allow-drift goes without --offline" in r.stderr, r

    # A deleted applied file ([!]), once everything is applied: nothing pending, still refused.
    second = p.root / "migrations" / "app" / f"{names[1]}.json"
    assert p.run("migrate", "--fake", f"app/{names[1]}").code == 0
    assert p.run("migrate").code == 0
    second.unlink()
    r = p.run("checkmigrations")
    assert r.code == 1, r
    assert r.err_lines[:3] == [
        "error: umbral checkmigrations: drift detected",
        "The following migrations are in the tracking table but missing on disk:",
        f"[!] app/{names[1]}",
    ], r
    assert r.err_lines[-2:] == [
        "3. Run `umbral migrate --prune` to delete the tracking rows of the [!] migrations (the "
        "schema is not touched).",
        "4. Run `umbral checkmigrations --allow-drift` to check the pending migrations anyway.",
    ], r
    r = p.run("checkmigrations", "--allow-drift")
    assert (r.code, r.out_lines) == (0, ["No pending migrations — nothing to check."]), r
