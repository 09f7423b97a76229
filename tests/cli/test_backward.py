"""Backward migrate: ``migrate plugin/name`` and ``plugin/zero`` (SPEC §8).

Every operation knows its reverse from the snapshot it carries; un-applying runs the reverse
operations and removes the tracking row in one transaction; irreversible steps stop the run
unless ``--allow-irreversible``; dependents in other plugins are un-applied first.
"""

from __future__ import annotations

import json

from conftest import Project, backend_name, execute, rows, schema_of


def recorded(p: Project) -> list[tuple[str, str]]:
    return sorted(rows(p.database, "SELECT plugin, name FROM umbral_migrations"))


def history(p: Project) -> dict:
    """Three migrations: create post, add an indexed column, rename a column."""
    p.models(
        """
        class Post(Model):
            title = fields.Text()
        """
    )
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    s1 = schema_of(p.database)
    p.models(
        """
        class Post(Model):
            title = fields.Text()
            slug = fields.Text(nullable=True, index=True)
        """
    )
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    s2 = schema_of(p.database)
    p.models(
        """
        class Post(Model):
            headline = fields.Text()
            slug = fields.Text(nullable=True, index=True)
        """
    )
    r = p.run("makemigrations")
    assert r.code == 0, r
    assert p.run("migrate").code == 0
    return {"s1": s1, "s2": s2, "s3": schema_of(p.database)}


def test_backward_to_a_target_and_forward_again(any_project: Project) -> None:
    p = any_project
    schemas = history(p)
    assert p.migration_files() == [
        "0001_create_post.json",
        "0002_add_post_slug.json",
        "0003_rename_post_title_to_headline.json",
    ]
    # Un-applying 0003 renames the column back: no data is lost, no flag needed.
    r = p.run("migrate", "app/0002_add_post_slug")
    assert r.code == 0, r
    assert r.out_lines == ["Unapplied 1 migration(s)"]
    assert schema_of(p.database) == schemas["s2"]
    assert recorded(p) == [("app", "0001_create_post"), ("app", "0002_add_post_slug")]

    # Un-applying 0002 drops the column it added: the destructive gate asks first.
    r = p.run("migrate", "app/0001_create_post")
    assert r.code == 1, r
    assert r.err_lines[0] == (
        "error: umbral migrate: 1 pending destructive operation(s) would DESTROY DATA:"
    )
    assert schema_of(p.database) == schemas["s2"]
    r = p.run("migrate", "app/0001_create_post", "--allow-destructive")
    assert r.code == 0, r
    assert schema_of(p.database) == schemas["s1"]
    assert recorded(p) == [("app", "0001_create_post")]

    r = p.run("migrate")
    assert r.code == 0, r
    assert r.out_lines == ["Applied 2 migration(s)"]
    assert schema_of(p.database) == schemas["s3"]


def test_undoing_a_drop_is_irreversible(any_project: Project) -> None:
    p = any_project
    schemas = history(p)
    p.models(
        """
        class Post(Model):
            headline = fields.Text()
        """
    )
    assert p.run("makemigrations").out_lines == ["Wrote migrations/app/0004_drop_post_slug.json"]
    assert p.run("migrate", "--allow-destructive").code == 0
    # The column can come back, its data cannot: refused without --allow-irreversible.
    r = p.run("migrate", "app/0003_rename_post_title_to_headline")
    assert r.code == 1, r
    assert r.err_lines == [
        "error: umbral migrate: un-applying app/0004_drop_post_slug cannot restore the data "
        "removed by: Drop column slug from post. Pass --allow-irreversible to un-apply it anyway"
    ]
    r = p.run("migrate", "app/0003_rename_post_title_to_headline", "--allow-irreversible")
    assert r.code == 0, r
    assert schema_of(p.database) == schemas["s3"]


def test_backward_keeps_rows_through_reversible_steps(any_project: Project) -> None:
    p = any_project
    history(p)
    p.run("migrate")
    from conftest import execute

    execute(p.database, "INSERT INTO post (headline, slug) VALUES ('hello', 'h')")
    r = p.run("migrate", "app/0002_add_post_slug")
    assert r.code == 0, r
    assert rows(p.database, "SELECT title, slug FROM post") == [("hello", "h")]


def test_plan_shows_the_reverse_operations(project: Project) -> None:
    p = project
    history(p)
    r = p.run("migrate", "app/0002_add_post_slug", "--plan")
    assert r.code == 0, r
    assert r.out_lines == [
        "Unapply app/0003_rename_post_title_to_headline",
        "    Rename column headline of post to title",
    ]
    assert recorded(p)[-1] == ("app", "0003_rename_post_title_to_headline")


def test_a_backward_plan_says_what_data_goes(any_project: Project) -> None:
    """Un-applying an AddColumn drops the column and its data: the plan refuses without
    --allow-destructive, and with it still says, as a warning, what goes."""
    p = any_project
    history(p)
    r = p.run("migrate", "app/0001_create_post", "--plan")
    assert r.code == 1, r
    assert r.err_lines[:2] == [
        "error: umbral migrate: 1 pending destructive operation(s) would DESTROY DATA:",
        "    [UNSAFE] app/0002_add_post_slug: drops column `post.slug` and its data; old code "
        "reading it breaks. Expand-contract: stop writing it, deploy, then drop",
    ], r
    r = p.run("migrate", "app/0001_create_post", "--plan", "--allow-destructive")
    assert r.code == 0, r
    assert r.out_lines == [
        "Unapply app/0003_rename_post_title_to_headline",
        "    Rename column headline of post to title",
        "Unapply app/0002_add_post_slug",
        "    Drop column slug from post",
    ], r
    assert r.err_lines == [
        "warning: app/0002_add_post_slug: drops column `post.slug` and its data (allowed by "
        "--allow-destructive)"
    ], r
    r = p.run("migrate", "app/zero", "--plan", "--allow-destructive", "--json")
    assert r.code == 0, r
    assert json.loads(r.stdout)["warnings"] == [
        "app/0002_add_post_slug: drops column `post.slug` and its data (allowed by "
        "--allow-destructive)",
        "app/0001_create_post: drops table `post` and all its rows (allowed by "
        "--allow-destructive)",
    ], r
    assert recorded(p)[-1] == ("app", "0003_rename_post_title_to_headline")


def test_zero_unapplies_dependents_in_other_plugins_first(project: Project) -> None:
    p = project
    p.write_config(plugins=["shop"], plugin_modules={"shop": "shop"})
    p.write(
        "shop.py",
        """
        from umbral import Model, fields, hookimpl


        class Product(Model, plugin="shop"):
            name = fields.Text()


        @hookimpl
        def umbral_models():
            return [Product]
        """,
    )
    p.models(
        """
        class Review(Model):
            product = fields.ForeignKey("shop.Product", on_delete="cascade")
            body = fields.Text()
        """
    )
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    r = p.run("migrate", "shop/zero", "--allow-destructive", "--allow-irreversible")
    assert r.code == 0, r
    assert r.out_lines == ["Unapplied 2 migration(s)"]
    assert recorded(p) == []
    assert set(schema_of(p.database)) == {"umbral_migrations"}
    r = p.run("migrate")
    assert r.code == 0, r
    assert set(schema_of(p.database)) == {"umbral_migrations", "shop_product", "review"}


def test_run_sql_with_and_without_reverse(project: Project) -> None:
    p = project
    p.models(
        """
        class Post(Model):
            title = fields.Text()
        """
    )
    assert p.run("makemigrations").code == 0
    r = p.run("makemigrations", "--empty", "app", "--name", "seed")
    assert r.code == 0, r
    assert r.out_lines[0] == "Wrote migrations/app/0002_seed.json (empty)"
    path = p.root / "migrations" / "app" / "0002_seed.json"
    data = json.loads(path.read_text())
    data["operations"] = [
        {
            "kind": "RunSql",
            "sql": "INSERT INTO post (title) VALUES ('a'); INSERT INTO post (title) VALUES ('b;c')",
            "reverse_sql": "DELETE FROM post WHERE title IN ('a', 'b;c')",
        }
    ]
    path.write_text(json.dumps(data))
    assert p.run("makemigrations").out_lines == ["no changes detected"]
    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(p.database, "SELECT title FROM post ORDER BY id") == [("a",), ("b;c",)]
    r = p.run("migrate", "app/0001_create_post")
    assert r.code == 0, r
    assert rows(p.database, "SELECT count(*) FROM post") == [(0,)]
    assert recorded(p) == [("app", "0001_create_post")]

    # Without reverse_sql the step is irreversible: refused, or skipped when allowed.
    del data["operations"][0]["reverse_sql"]
    path.write_text(json.dumps(data))
    assert p.run("migrate").code == 0
    r = p.run("migrate", "app/0001_create_post")
    assert r.code == 1, r
    assert "RunSql without reverse_sql cannot be undone" in r.stderr
    assert recorded(p)[-1] == ("app", "0002_seed")
    r = p.run("migrate", "app/0001_create_post", "--allow-irreversible")
    assert r.code == 0, r
    assert rows(p.database, "SELECT count(*) FROM post") == [(2,)]  # nothing was undone
    assert recorded(p) == [("app", "0001_create_post")]


TRIGGERS = {
    "sqlite": (
        "CREATE TABLE audit (title TEXT); "
        "CREATE TRIGGER post_audit AFTER INSERT ON post BEGIN "
        "INSERT INTO audit VALUES (CASE WHEN new.title = '' THEN '(none)' ELSE new.title END); "
        "INSERT INTO audit VALUES ('; done'); END",
        ["CREATE TABLE audit (title TEXT)", "CREATE TRIGGER post_audit"],
        "DROP TRIGGER post_audit; DROP TABLE audit",
    ),
    "postgres": (
        "CREATE TABLE audit (title TEXT); "
        "CREATE FUNCTION post_audit() RETURNS trigger AS $fn$ BEGIN "
        "INSERT INTO audit VALUES (CASE WHEN NEW.title = '' THEN '(none)' ELSE NEW.title END); "
        "INSERT INTO audit VALUES ('; done'); RETURN NEW; END $fn$ LANGUAGE plpgsql; "
        "CREATE TRIGGER post_audit AFTER INSERT ON post FOR EACH ROW "
        "EXECUTE FUNCTION post_audit()",
        ["CREATE TABLE audit (title TEXT)", "CREATE FUNCTION post_audit()", "CREATE TRIGGER"],
        "DROP TRIGGER post_audit ON post; DROP FUNCTION post_audit(); DROP TABLE audit",
    ),
    "mysql": (
        "CREATE TABLE audit (title TEXT); "
        "CREATE TRIGGER post_audit AFTER INSERT ON post FOR EACH ROW BEGIN "
        "INSERT INTO audit VALUES (CASE WHEN NEW.title = '' THEN '(none)' ELSE NEW.title END); "
        "INSERT INTO audit VALUES ('; done'); END",
        ["CREATE TABLE audit (title TEXT)", "CREATE TRIGGER post_audit"],
        "DROP TRIGGER post_audit; DROP TABLE audit",
    ),
}


def test_run_sql_with_trigger_and_function_bodies(any_project: Project) -> None:
    """A ``;`` inside a trigger's BEGIN ... END or a dollar-quoted function body does not end
    the RunSql statement."""
    p = any_project
    sql, starts, reverse = TRIGGERS[backend_name(p.database)]
    p.models(
        """
        class Post(Model):
            title = fields.Text()
        """
    )
    assert p.run("makemigrations").code == 0
    assert p.run("makemigrations", "--empty", "app", "--name", "audit").code == 0
    path = p.root / "migrations" / "app" / "0002_audit.json"
    data = json.loads(path.read_text())
    data["operations"] = [{"kind": "RunSql", "sql": sql, "reverse_sql": reverse}]
    path.write_text(json.dumps(data))

    shown = p.run("sqlmigrate", "app/0002_audit")
    assert shown.code == 0, shown
    statements = [line for line in shown.out_lines if not line.startswith("--")]
    assert len(statements) == len(starts), shown
    for line, start in zip(statements, starts, strict=True):
        assert line.startswith(start) and line.endswith(";"), shown

    r = p.run("migrate")
    assert r.code == 0, r
    execute(p.database, "INSERT INTO post (title) VALUES ('hello'), ('')")
    assert sorted(rows(p.database, "SELECT title FROM audit")) == sorted(
        [("hello",), ("; done",), ("(none)",), ("; done",)]
    )
    r = p.run("migrate", "app/0001_create_post")
    assert r.code == 0, r
    assert "audit" not in schema_of(p.database)


def test_run_sql_is_validated_by_the_loader(project: Project) -> None:
    p = project
    p.models("class Post(Model):\n    title = fields.Text()\n")
    assert p.run("makemigrations").code == 0
    assert p.run("makemigrations", "--empty", "app").code == 0
    path = p.root / "migrations" / "app" / "0002_empty.json"
    data = json.loads(path.read_text())
    data["operations"] = [{"kind": "RunSql", "sql": 42}]
    path.write_text(json.dumps(data))
    before = p.tree()
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: migration file {path}: operation #1: RunSql.sql: expected a string, got 42"
    ]
    assert p.tree() == before


def test_undoing_a_widened_max_length_never_cuts_a_value(any_project: Project) -> None:
    """Un-applying a max_length widening narrows the column again: a value longer than the
    old length fails the migration (rolled back, the value whole) where the database enforces
    lengths, and stays whole where it does not (SQLite)."""
    p = any_project
    p.models("class Item(Model):\n    name = fields.Text(max_length=10)\n")
    assert p.run("makemigrations").code == 0
    p.models("class Item(Model):\n    name = fields.Text(max_length=20)\n")
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(p.database, "INSERT INTO item (name) VALUES ('abcdefghijklmnopq')")
    r = p.run("migrate", "app/0001_create_item")
    if backend_name(p.database) == "sqlite":
        assert (r.code, r.out_lines) == (0, ["Unapplied 1 migration(s)"]), r
    else:
        assert r.code == 1, r
        assert "app/0002_" in r.err_lines[0], r
        assert len(recorded(p)) == 2
    assert rows(p.database, "SELECT name FROM item") == [("abcdefghijklmnopq",)]
    # A value that fits goes back without a word.
    execute(p.database, "UPDATE item SET name = 'short'")
    if backend_name(p.database) != "sqlite":
        r = p.run("migrate", "app/0001_create_item")
        assert (r.code, r.out_lines) == (0, ["Unapplied 1 migration(s)"]), r
    assert rows(p.database, "SELECT name FROM item") == [("short",)]


def test_undoing_a_widening_over_longer_values_is_refused_before_it_runs(
    any_project: Project,
) -> None:
    """Un-applying a widened `max_length` narrows the column again. Where a row holds a longer
    value, PostgreSQL, MySQL and MariaDB refuse the narrowing: the run stops before it, naming
    the column, the rows and what to do, and the migrations before it in the run stay
    un-applied. SQLite does not enforce lengths and keeps the value whole."""
    p = any_project
    p.models("class Post(Model):\n    slug = fields.Text(max_length=5, nullable=True)\n")
    assert p.run("makemigrations").code == 0
    p.models("class Post(Model):\n    slug = fields.Text(max_length=50, nullable=True)\n")
    assert p.run("makemigrations").code == 0
    p.models(
        "class Post(Model):\n    slug = fields.Text(max_length=50, nullable=True)\n"
        "    n = fields.Integer(nullable=True)\n"
    )
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(p.database, "INSERT INTO post (id, slug) VALUES (1, 'abc'), (2, 'abcdefghij')")
    r = p.run("migrate", "app/0001_create_post", "--allow-destructive")
    values = [(1, "abc"), (2, "abcdefghij")]
    if backend_name(p.database) == "sqlite":
        assert (r.code, r.stderr) == (0, ""), r
        assert recorded(p) == [("app", "0001_create_post")]
        assert rows(p.database, "SELECT id, slug FROM post ORDER BY id") == values
        return
    assert (r.code, r.stdout) == (1, ""), r
    assert r.err_lines == [
        "error: migration app/0002_alter_post_slug: operation #1 (AlterColumn) makes "
        "`post.slug` at most 5 characters long, but 1 row holds a longer value (e.g. "
        '"abcdefghij"): the database would refuse the change; shorten or delete those values '
        "first, then run migrate again; nothing of it was run"
    ], r
    # The run stopped before that migration: the one after it stays un-applied, it stays.
    assert recorded(p) == [("app", "0001_create_post"), ("app", "0002_alter_post_slug")]
    assert rows(p.database, "SELECT id, slug FROM post ORDER BY id") == values
    assert p.run("checkschema").code == 0
    execute(p.database, "UPDATE post SET slug = 'abcde' WHERE id = 2")
    r = p.run("migrate", "app/0001_create_post", "--allow-destructive")
    assert r.code == 0, r
    assert recorded(p) == [("app", "0001_create_post")]
