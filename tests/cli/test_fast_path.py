"""A fresh database is built at the plan's end from the snapshots (history replays only from
the first migration whose effect no snapshot holds), ``--plan`` says which path and why, and
migrate, ``--plan``, sqlmigrate and checkmigrations import no model module."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import Project, execute, is_mysql, make_project, rows, schema_of

MODELS_1 = """
class Author(Model):
    name = fields.Text()

class Post(Model):
    title = fields.Text(index=True)
    author = fields.ForeignKey("Author")
    tags = fields.ManyToMany("Author")
"""

MODELS_2 = (
    MODELS_1
    + """
    body = fields.Text(nullable=True)
"""
)

MODELS_3 = MODELS_2.replace("class Author(Model):", "class Writer(Model):").replace(
    '"Author"', '"Writer"'
)

KEYS = ["app/0001_initial", "app/0002_body", "app/0003_writer"]


def history(p: Project) -> None:
    """Three migrations: create, add a column, rename a table."""
    for name, body in (("initial", MODELS_1), ("body", MODELS_2), ("writer", MODELS_3)):
        p.models(body)
        r = p.run("makemigrations", "--name", name)
        assert r.code == 0, r


def add_run_sql(p: Project, name: str, sql: str) -> str:
    """An empty migration with one RunSql; returns its key."""
    r = p.run("makemigrations", "--empty", "app", "--name", name)
    assert r.code == 0, r
    path = sorted((p.root / "migrations" / "app").glob(f"*_{name}.json"))[0]
    data = json.loads(path.read_text())
    data["operations"] = [{"kind": "RunSql", "sql": sql, "reverse_sql": "SELECT 1"}]
    path.write_text(json.dumps(data, indent=2))
    return f"app/{path.stem}"


def recorded(url: str) -> list[str]:
    return sorted(f"{a}/{b}" for a, b in rows(url, "SELECT plugin, name FROM umbral_migrations"))


def replayed_twin(p: Project, tmp_path: Path, url: str) -> dict:
    """The schema ``migrate --replay`` builds from the same files on a second database."""
    (tmp_path / "twin").mkdir()
    twin = make_project(tmp_path / "twin", url)
    shutil.copytree(p.root / "migrations", twin.root / "migrations")
    r = twin.run("migrate", "--replay")
    assert r.code == 0, r
    return schema_of(url)


def test_empty_database_is_built_from_the_snapshots(any_project: Project) -> None:
    p = any_project
    history(p)
    r = p.run("migrate", "--plan")
    assert r.code == 0, r
    assert r.out_lines == [
        "Path: fast path: the database is empty; the schema of app/0003_writer is built from "
        "the snapshots and 3 migration(s) are recorded in one transaction",
        "Build app at app/0003_writer",
        "    Create table writer",
        "    Create table post",
        "    Create junction table post_tags",
        *[f"Record {k} (no SQL: built from the snapshots)" for k in KEYS],
    ], r
    r = p.run("migrate")
    assert (r.code, r.out_lines, r.stderr) == (0, ["Applied 3 migration(s)"], ""), r
    assert recorded(p.database) == KEYS
    assert sorted(schema_of(p.database)) == ["post", "post_tags", "umbral_migrations", "writer"]
    r = p.run("migrate")
    assert r.out_lines == ["No pending migrations"], r


def test_fast_path_and_replay_give_the_same_schema(
    any_project: Project, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    p = any_project
    history(p)
    assert p.run("migrate").code == 0
    fast = schema_of(p.database)
    if p.database.startswith("sqlite"):
        assert replayed_twin(p, tmp_path, f"sqlite:///{tmp_path / 'twin.sqlite3'}") == fast
        return
    base, name = p.database.rsplit("/", 1)
    if is_mysql(p.database):
        admin = request.getfixturevalue("mysql_admin")
        admin.cursor().execute(f"CREATE DATABASE `{name}_replay` COLLATE utf8mb4_bin")
        try:
            assert replayed_twin(p, tmp_path, f"{base}/{name}_replay") == fast
        finally:
            admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}_replay`")
        return
    admin = request.getfixturevalue("postgres_admin")
    admin.execute(f'CREATE DATABASE "{name}_replay"')
    try:
        assert replayed_twin(p, tmp_path, f"{base}/{name}_replay") == fast
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}_replay" WITH (FORCE)')


def test_history_replays_from_the_first_run_sql(any_project: Project) -> None:
    p = any_project
    history(p)
    key = add_run_sql(p, "seed", "INSERT INTO writer (name) VALUES ('ann')")
    p.models(MODELS_3 + "\nclass Tag(Model):\n    label = fields.Text()\n")
    assert p.run("makemigrations", "--name", "tag").code == 0
    r = p.run("migrate", "--plan")
    assert r.out_lines[0] == (
        "Path: fast path: the database is empty; the schema of app/0003_writer is built from "
        f"the snapshots and 3 migration(s) are recorded in one transaction; then replay from "
        f"{key}: holds RunSql"
    ), r
    assert r.out_lines[-4:] == [
        f"Apply {key}",
        "    Run SQL: INSERT INTO writer (name) VALUES ('ann')",
        "Apply app/0005_tag",
        "    Create table tag",
    ], r
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 5 migration(s)"]), r
    assert rows(p.database, "SELECT name FROM writer") == [("ann",)]
    assert recorded(p.database) == sorted([*KEYS, key, "app/0005_tag"])


def test_run_sql_first_replays_everything(project: Project) -> None:
    p = project
    key = add_run_sql(p, "extension", "CREATE TABLE outside (x INTEGER)")
    p.models(MODELS_1)
    assert p.run("makemigrations", "--name", "initial").code == 0
    r = p.run("migrate", "--plan")
    assert r.out_lines[0] == (
        f"Path: replay: the database is empty, but {key} holds RunSql, whose effect no "
        "snapshot holds"
    ), r
    assert p.run("migrate").code == 0
    assert "outside" in schema_of(p.database)


def test_replay_flag_runs_every_migration(any_project: Project) -> None:
    p = any_project
    history(p)
    r = p.run("migrate", "--replay", "--plan")
    assert r.out_lines[:3] == [
        "Path: replay: --replay given; every migration runs as written",
        "Apply app/0001_initial",
        "    Create table author",
    ], r
    r = p.run("migrate", "--replay")
    assert (r.code, r.out_lines) == (0, ["Applied 3 migration(s)"]), r
    assert recorded(p.database) == KEYS


def test_a_database_with_tables_of_a_plugin_is_not_fresh(project: Project) -> None:
    p = project
    history(p)
    execute(p.database, "CREATE TABLE writer (id INTEGER PRIMARY KEY)")
    r = p.run("migrate", "--plan")
    assert r.out_lines[:2] == [
        "Path: replay: the database already holds writer, so the schema is not built from the "
        "snapshots",
        "Apply app/0001_initial",
    ], r


def test_a_tracked_database_plans_as_before(project: Project) -> None:
    p = project
    history(p)
    assert p.run("migrate", "app/0001_initial").code == 0
    r = p.run("migrate", "--plan")
    assert r.out_lines == [
        "Apply app/0002_body",
        "    Add column body to post",
        "Apply app/0003_writer",
        "    Rename table author to writer",
    ], r


def test_fast_path_stops_at_a_target(project: Project) -> None:
    p = project
    history(p)
    r = p.run("migrate", "app/0002_body")
    assert (r.code, r.out_lines) == (0, ["Applied 2 migration(s)"]), r
    assert recorded(p.database) == KEYS[:2]
    assert sorted(schema_of(p.database)) == ["author", "post", "post_tags", "umbral_migrations"]
    assert p.run("migrate").code == 0
    assert recorded(p.database) == KEYS


def test_a_history_with_drops_builds_a_fresh_database_on_either_path(
    project: Project, tmp_path: Path
) -> None:
    """A drop of what the run itself made first destroys nothing: a fresh database needs no
    --allow-destructive, built or replayed. A database that holds the column does."""
    p = project
    history(p)
    p.models(MODELS_3.replace("    body = fields.Text(nullable=True)\n", ""))
    assert p.run("makemigrations", "--name", "drop_body").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    replayed = f"sqlite:///{tmp_path / 'replayed.db'}"
    r = p.run("migrate", "--replay", "--database", replayed)
    assert r.code == 0, r
    held = f"sqlite:///{tmp_path / 'held.db'}"
    assert p.run("migrate", "app/0002_body", "--database", held).code == 0
    r = p.run("migrate", "--database", held)
    assert r.code == 1, r
    assert "would DESTROY DATA" in r.stderr, r
    assert "drops column `post.body`" in r.stderr, r
    assert p.run("migrate", "--allow-destructive", "--database", held).code == 0


# -- item: migrate, --plan, sqlmigrate and checkmigrations import no model module ----------


def test_commands_that_read_files_do_not_import_the_models(any_project: Project) -> None:
    p = any_project
    history(p)
    p.models(
        "import pathlib\npathlib.Path('imported').write_text('yes')\n"
        "raise RuntimeError('an edit in progress')\n"
    )
    r = p.run("migrate", "--plan")
    assert r.code == 0 and r.stderr.count("error") == 0, r
    r = p.run("sqlmigrate", "app/0002_body")
    assert r.code == 0 and "body" in r.stdout, r
    r = p.run("checkmigrations")
    assert r.code == 0, r
    r = p.run("migrate", "app/0001_initial", "--replay")
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 2 migration(s)"]), r
    assert not (p.root / "imported").exists()
    # makemigrations needs the models: it says why it cannot run.
    r = p.run("makemigrations")
    assert r.code == 1, r
    assert "models module `models` failed to import: RuntimeError: an edit in progress" in r.stderr


def test_operations_the_snapshot_does_not_show_replay_everything(any_project: Project) -> None:
    p = any_project
    history(p)
    r = p.run("makemigrations", "--empty", "app", "--name", "by_hand")
    assert r.code == 0, r
    path = sorted((p.root / "migrations" / "app").glob("*_by_hand.json"))[0]
    data = json.loads(path.read_text())
    data["operations"] = [
        {"kind": "CreateTable", "table": "audit",
         "columns": [{"name": "id", "type": "BigInt", "primary_key": True, "nullable": False}]}
    ]  # fmt: skip
    path.write_text(json.dumps(data, indent=2))
    r = p.run("migrate", "--plan")
    assert r.out_lines[0] == (
        f"Path: replay: the database is empty, but app/{path.stem} holds operations its "
        "snapshot does not show"
    ), r
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 4 migration(s)"]), r
    assert "audit" in schema_of(p.database)


def test_a_remembered_check_does_not_outlive_an_edit(project: Project, tmp_path: Path) -> None:
    """The check that a plugin's operations end at its snapshot is remembered per chain of
    files (by their checksums), so a hand edit of any file of the chain is checked again."""
    p, cache = project, tmp_path / "cache"
    history(p)
    r = p.run("migrate", "--plan", UMBRAL_CACHE_DIR=str(cache))
    assert r.out_lines[0].startswith("Path: fast path: the database is empty"), r
    remembered = json.loads((cache / "fastpath-agreeing.json").read_text())["chains"]
    assert len(remembered) == 1
    r = p.run("migrate", "--plan", UMBRAL_CACHE_DIR=str(cache))
    assert r.out_lines[0].startswith("Path: fast path: the database is empty"), r

    path = p.root / "migrations" / "app" / "0003_writer.json"
    data = json.loads(path.read_text())
    data["operations"].append(
        {"kind": "CreateTable", "table": "audit",
         "columns": [{"name": "id", "type": "BigInt", "primary_key": True, "nullable": False}]}
    )  # fmt: skip
    path.write_text(json.dumps(data, indent=2))
    r = p.run("migrate", "--plan", UMBRAL_CACHE_DIR=str(cache))
    assert r.out_lines[0] == (
        "Path: replay: the database is empty, but app/0003_writer holds operations its "
        "snapshot does not show"
    ), r
    r = p.run("migrate", UMBRAL_CACHE_DIR=str(cache))
    assert (r.code, r.out_lines) == (0, ["Applied 3 migration(s)"]), r
    assert "audit" in schema_of(p.database)


AUTHOR_ONLY = """
class Author(Model):
    name = fields.Text()
"""

AUTHOR_AND_POST = (
    AUTHOR_ONLY
    + """
class Post(Model):
    title = fields.Text(max_length=100, index=True)
    author = fields.ForeignKey("Author")
"""
)


def test_a_failed_build_keeps_nothing_and_history_replays(any_project: Project) -> None:
    """The database refuses the fast path's SQL half-way (an index or foreign-key name another
    table already has): nothing of the build stays, also where DDL commits on its own, and
    history replays, failing where the collision really is."""
    p = any_project
    for name, body in (("author", AUTHOR_ONLY), ("post", AUTHOR_AND_POST)):
        p.models(body)
        assert p.run("makemigrations", "--name", name).code == 0, name
    if is_mysql(p.database):  # index names are per table there, foreign-key names are not
        execute(
            p.database,
            "CREATE TABLE legacy_parent (id BIGINT PRIMARY KEY)",
            "CREATE TABLE legacy (id BIGINT PRIMARY KEY, p BIGINT, CONSTRAINT post_author_fk "
            "FOREIGN KEY (p) REFERENCES legacy_parent (id))",
        )
    else:
        execute(
            p.database,
            "CREATE TABLE legacy (id INTEGER PRIMARY KEY, t TEXT)",
            "CREATE INDEX idx_post_title ON legacy (t)",
        )
    before = set(schema_of(p.database))
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines[0].startswith(
        "warning: umbral migrate: building the schema from the snapshots failed ("
    ), r
    assert r.err_lines[0].endswith("nothing of it was kept, replaying every migration instead")
    assert r.err_lines[1].startswith("error: umbral migrate: migration app/0002_post failed"), r
    # The replay did not trip over what the build had created: 0001 ran, 0002 hit the name.
    assert recorded(p.database) == ["app/0001_author"]
    left = {t for t in schema_of(p.database) if not t.startswith("umbral_")}
    assert left - before == {"author"}, r


@pytest.mark.mysql
def test_a_failed_build_drops_tables_that_reference_each_other(
    tmp_path: Path, mysql_url: str
) -> None:
    """The build fails after making tables with foreign keys between them: they are all
    dropped (enforcement off), where the first DROP of a referenced table used to fail and
    leave the database half-built ("Table 'post' already exists" at every later migrate)."""
    p = make_project(tmp_path, mysql_url)
    p.models(AUTHOR_AND_POST + "\nclass Comment(Model):\n    post = fields.ForeignKey(Post)\n")
    assert p.run("makemigrations").code == 0
    execute(
        mysql_url,
        "CREATE TABLE legacy_parent (id BIGINT PRIMARY KEY)",
        "CREATE TABLE legacy (id BIGINT PRIMARY KEY, p BIGINT, CONSTRAINT comment_post_fk "
        "FOREIGN KEY (p) REFERENCES legacy_parent (id))",
    )
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines[0].endswith("nothing of it was kept, replaying every migration instead"), r
    # The replay fails at the same name, part way (MySQL's DDL commits on its own): the
    # tables it made are its own, which `migrate` continues once the name is freed.
    execute(mysql_url, "DROP TABLE legacy", "DROP TABLE legacy_parent")
    r = p.run("migrate")
    assert r.code == 0, r
    assert recorded(mysql_url) == ["app/0001_initial"]


SHOP = """
from umbral import Model, fields, hookimpl


class Item(Model, plugin="shop"{table}):
    name = fields.Text()


@hookimpl
def umbral_models():
    return [Item]
"""


def test_a_key_following_another_plugins_rename_is_built_from_the_snapshots(
    any_project: Project,
) -> None:
    # app/0002 has no operation: its snapshot only follows shop's rename of the table its key
    # points at. Its operations, run from empty, still name shop_item; that is not a file whose
    # operations its snapshot does not show.
    p = any_project
    p.write_config(plugin_modules={"shop": "shop"}, plugins=["shop"])
    p.write("shop.py", SHOP.format(table=""))
    p.models('class Order(Model):\n    item = fields.ForeignKey("shop.Item")\n')
    assert p.run("makemigrations").code == 0
    p.write("shop.py", SHOP.format(table=', table="shop_goods"'))
    r = p.run("makemigrations")
    assert r.out_lines[-2:] == [
        "Wrote migrations/shop/0002_rename_shop_item_to_shop_goods.json",
        "Wrote migrations/app/0002_auto.json",
    ], r
    r = p.run("migrate", "--plan")
    assert r.out_lines[0] == (
        "Path: fast path: the database is empty; the schema of app/0002_auto is built from the "
        "snapshots and 4 migration(s) are recorded in one transaction"
    ), r
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 4 migration(s)"]), r
    assert schema_of(p.database)["order"]["fks"] == [(("item",), "shop_goods")]
