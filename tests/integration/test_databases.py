"""Several databases (``[tool.umbral.databases]`` + ``[tool.umbral.routing]``): each plugin
migrates in the database it is routed to, each database with its own tracking table and lock;
commands work on every database, or on one with ``--alias``. SQLite + PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SHOP, Project, execute, make_project, rows, schema_of

NOTES = """
class Note(Model):
    body = fields.Text()
"""


def recorded(url: str) -> list[str]:
    return sorted(f"{a}/{b}" for a, b in rows(url, "SELECT plugin, name FROM umbral_migrations"))


@pytest.fixture
def two(tmp_path: Path, postgres_url: str) -> Project:
    """The app's ``Note`` on SQLite (the default database), the plugin ``shop`` routed to
    PostgreSQL (``analytics``)."""
    p = make_project(tmp_path, f"sqlite:///{tmp_path / 'main.sqlite3'}")
    p.write("shop.py", SHOP)
    p.models(NOTES)
    p.write_config(
        database=None,
        databases={"default": p.database, "analytics": postgres_url},
        routing={"shop": "analytics"},
        plugin_modules={"shop": "shop"},
        plugins=["shop"],
    )
    p.analytics = postgres_url  # type: ignore[attr-defined]
    r = p.run("makemigrations")
    assert r.code == 0, r
    return p


def test_each_plugin_migrates_in_its_own_database(two: Project) -> None:
    analytics = two.analytics  # type: ignore[attr-defined]
    r = two.run("migrate")
    assert (r.code, r.out_lines) == (
        0,
        ["# database: default", "Applied 1 migration(s)", "",
         "# database: analytics", "Applied 1 migration(s)"],
    ), r  # fmt: skip
    assert set(schema_of(two.database)) == {"note", "umbral_migrations"}
    assert set(schema_of(analytics)) == {"shop_item", "umbral_migrations"}
    assert recorded(two.database) == ["app/0001_create_note"]
    assert recorded(analytics) == ["shop/0001_create_shop_item"]

    r = two.run("migrate")
    assert r.out_lines == [
        "# database: default", "No pending migrations", "",
        "# database: analytics", "No pending migrations",
    ], r  # fmt: skip
    r = two.run("showmigrations")
    assert r.out_lines == [
        "# database: default", "# plugin: app", "[X] app/0001_create_note", "",
        "# database: analytics", "# plugin: shop", "[X] shop/0001_create_shop_item",
    ], r  # fmt: skip
    data = json.loads(two.run("showmigrations", "--json").stdout)
    assert sorted(data["databases"]) == ["analytics", "default"]
    assert [m["name"] for m in data["databases"]["analytics"]["migrations"]] == [
        "0001_create_shop_item"
    ]
    graph = two.run("graph").stdout  # every database's states in one graph
    assert '"[X] 0001_create_note"' in graph and '"[X] 0001_create_shop_item"' in graph, graph
    for command in ("checkmigrations", "checkschema"):
        r = two.run(command)
        assert r.code == 0, r
        assert r.out_lines[0] == "# database: default", r
        assert "# database: analytics" in r.out_lines, r


def test_migrate_json_of_a_run_that_fails_on_the_second_database(two: Project) -> None:
    """The first database's result and the second's failure both come out as JSON."""
    analytics = two.analytics  # type: ignore[attr-defined]
    execute(analytics, "CREATE TABLE shop_item (id INTEGER PRIMARY KEY)")  # in the way
    r = two.run("migrate", "--json")
    assert r.code == 1, r
    data = json.loads(r.stdout)["databases"]
    assert [a["migration"] for a in data["default"]["applied"]] == ["app/0001_create_note"]
    assert "error" not in data["default"]
    failed = data["analytics"]
    assert failed["applied"] == [] and "shop/0001_create_shop_item" in failed["error"]
    assert f"error: {failed['error']}" in r.err_lines, r
    assert recorded(two.database) == ["app/0001_create_note"]


def test_alias_works_on_one_database(two: Project) -> None:
    analytics = two.analytics  # type: ignore[attr-defined]
    r = two.run("migrate", "--alias", "analytics")
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r
    assert recorded(analytics) == ["shop/0001_create_shop_item"]
    assert not Path(two.database.removeprefix("sqlite:///")).exists()
    r = two.run("showmigrations", "--alias", "default")
    assert r.out_lines == ["# plugin: app", "[ ] app/0001_create_note", "",
                           "1 migration(s) not yet applied."], r  # fmt: skip
    r = two.run("migrate", "--alias", "reports")
    assert r.code == 1, r
    assert r.err_lines == [
        "error: --alias reports: no such database alias (aliases: default, analytics)"
    ]


def test_fake_records_in_the_plugins_database_only(two: Project) -> None:
    """`migrate --fake shop/…` ran on every database: the default one got a tracking row of a
    plugin it does not hold (`[!]` there), and `--alias default` recorded it too."""
    analytics = two.analytics  # type: ignore[attr-defined]
    assert two.run("migrate").code == 0
    assert two.run("migrate", "shop/zero", "--allow-destructive").code == 0
    key = "shop/0001_create_shop_item"
    r = two.run("migrate", "--alias", "default", "--fake", key)
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: umbral migrate --fake {key}: plugin `shop` lives in database `analytics`, "
        "not in `default`; nothing was recorded; pass --alias analytics, or leave --alias out"
    ], r
    r = two.run("migrate", "--fake", key)
    assert (r.code, r.out_lines) == (0, [f"Marked {key} as applied (no SQL executed)"]), r
    assert recorded(two.database) == ["app/0001_create_note"]
    assert recorded(analytics) == [key]
    r = two.run("showmigrations")
    assert "[!]" not in r.stdout, r


def test_from_statement_continues_in_the_database_that_stopped(two: Project) -> None:
    """The failure told the user to add `--from-statement 2`; without --alias that ran on the
    default database first, which has nothing partly applied, and stopped there:
    `none is partly applied`, the other database never reached."""
    analytics = two.analytics  # type: ignore[attr-defined]
    assert two.run("migrate").code == 0
    assert two.run("makemigrations", "--empty", "shop", "--name", "steps").code == 0
    path = next((two.root / "migrations" / "shop").glob("0002_steps.json"))
    data = json.loads(path.read_text())
    data["atomic"] = False
    data["operations"] = [{"kind": "RunSql", "sql": (
        "INSERT INTO shop_item (name) VALUES ('a'); INSERT INTO shop_item (name) VALUES (NULL);"
        " INSERT INTO shop_item (name) VALUES ('c');"
    )}]  # fmt: skip
    path.write_text(json.dumps(data, indent=2))
    r = two.run("migrate")
    assert r.code == 1 and "failed at statement 2 of 3" in r.stderr, r
    data["operations"][0]["sql"] = data["operations"][0]["sql"].replace("NULL", "'b'")
    path.write_text(json.dumps(data, indent=2))

    r = two.run("migrate", "--from-statement", "2")
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r
    names = rows(analytics, "SELECT name FROM shop_item ORDER BY id")
    assert names == [("a",), ("b",), ("c",)]
    assert recorded(analytics) == ["shop/0001_create_shop_item", "shop/0002_steps"]
    assert recorded(two.database) == ["app/0001_create_note"]

    # Nothing partly applied anywhere: the refusal is what one database gives.
    r = two.run("migrate", "--from-statement", "2")
    assert r.code == 1, r
    assert r.err_lines[-1] == (
        "error: umbral migrate --from-statement: it continues the one partly applied "
        "migration, and none is partly applied"
    ), r


def test_an_unreachable_alias_names_its_own_configuration_key(
    tmp_path: Path, postgres_url: str
) -> None:
    """The connection error of `databases.analytics` told the user to check --database,
    UMBRAL_DATABASE_URL or `database`, none of which sets that URL."""
    p = make_project(tmp_path, f"sqlite:///{tmp_path / 'main.sqlite3'}")
    p.write("shop.py", SHOP)
    p.models(NOTES)
    unreachable = postgres_url.replace(":5432/", ":1/") if ":5432/" in postgres_url else None
    if unreachable is None:
        pytest.skip("the PostgreSQL URL has no :5432 port to replace")
    p.write_config(
        database=None,
        databases={"default": p.database, "analytics": unreachable},
        routing={"shop": "analytics"},
        plugin_modules={"shop": "shop"},
        plugins=["shop"],
    )
    assert p.run("makemigrations").code == 0
    for command in (["migrate"], ["showmigrations"], ["checkschema"]):
        r = p.run(*command)
        assert r.code == 1, r
        error = r.err_lines[-1]
        assert error.startswith("error: cannot connect to database "), r
        assert error.endswith(
            "check the URL (`databases.analytics` in the config) and that the server is running"
        ), r


def test_sqlmigrate_renders_for_the_plugins_database(two: Project) -> None:
    r = two.run("sqlmigrate", "shop/0001_create_shop_item")
    assert "GENERATED BY DEFAULT AS IDENTITY" in r.stdout, r  # PostgreSQL's, not SQLite's
    r = two.run("sqlmigrate", "app/0001_create_note")
    assert "AUTOINCREMENT" in r.stdout, r


def test_database_flag_overrides_the_default_alias_only(two: Project, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    r = two.run("migrate", "--database", other)
    assert r.code == 0, r
    assert recorded(other) == ["app/0001_create_note"]
    assert recorded(two.analytics) == ["shop/0001_create_shop_item"]  # type: ignore[attr-defined]


def test_a_foreign_key_across_databases_is_refused_at_makemigrations(two: Project) -> None:
    two.models(NOTES + '\nclass Order(Model):\n    item = fields.ForeignKey("shop.Item")\n')
    before = two.tree()
    r = two.run("makemigrations")
    assert r.code == 1, r
    assert r.err_lines == [
        "error: umbral makemigrations: the foreign key app.order.item (database `default`) "
        "points at shop_item of plugin shop (database `analytics`): a key cannot cross "
        "databases; route both plugins to one database, or declare the field with "
        "db_constraint=False"
    ], r
    assert two.tree() == before
    # A plain column that only names the other database's row may cross.
    two.models(
        NOTES
        + '\nclass Order(Model):\n    item = fields.ForeignKey("shop.Item", db_constraint=False)\n'
    )
    assert two.run("makemigrations").code == 0


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"routing": {"shop": "reports"}}, "`routing` names unknown database alias(es) reports"),
        ({"databases": {"default": "sqlite:///a.sqlite3"}, "database": "sqlite:///b.sqlite3"},
         "`database` and `databases.default` both name the default database"),
        ({"databases": {"x": 1}}, "`databases` must be a table of alias = database URL"),
        ({"routing": {"nope": "default"}}, "`routing` names unknown plugin(s) nope"),
    ],
)  # fmt: skip
def test_configuration_errors(project: Project, config: dict, needle: str) -> None:
    project.write_config(**config)
    r = project.run("migrate")
    assert r.code == 1, r
    assert len(r.err_lines) == 1 and needle in r.err_lines[0], r
