"""Environment gates: a migration's ``skip_on`` names the environments where it is recorded as
skipped instead of run; the environment comes from --env, UMBRAL_ENV or the config's ``env``.
One set of files is skipped on production and applied on dev, through the CLI on both backends.
"""

from __future__ import annotations

import json

from conftest import Project, rows, schema_of

POST = """
class Post(Model):
    title = fields.Text()
"""
TAG = """
class Tag(Model):
    name = fields.Text()
"""


def gated_history(p: Project) -> None:
    """0001 creates post; 0002 (gated on staging and production) inserts a row; 0003 creates
    tag."""
    p.models(POST)
    assert p.run("makemigrations").code == 0
    r = p.run("makemigrations", "--empty", "app", "--name", "seed_demo")
    assert r.code == 0, r
    path = p.root / "migrations" / "app" / "0002_seed_demo.json"
    data = json.loads(path.read_text())
    data["skip_on"] = ["staging", "production"]
    data["operations"] = [
        {
            "kind": "RunSql",
            "sql": "INSERT INTO post (id, title) VALUES (1, 'demo')",
            # Leaves a trace if it ever runs where the migration was skipped.
            "reverse_sql": "INSERT INTO post (id, title) VALUES (2, 'reversed')",
        }
    ]
    path.write_text(json.dumps(data, indent=2))
    p.models(POST + TAG)
    assert p.run("makemigrations").code == 0
    assert p.migration_files() == ["0001_create_post.json", "0002_seed_demo.json",
                                   "0003_create_tag.json"]  # fmt: skip


def test_gated_migration_skipped_on_production_applied_on_dev(any_project: Project) -> None:
    p = any_project
    gated_history(p)

    plan = p.run("migrate", "--plan", "--env", "production")
    assert plan.code == 0, plan
    assert "Skip app/0002_seed_demo (skip_on: staging, production; recorded as skipped on " \
        "production, no SQL)" in plan.out_lines, plan  # fmt: skip
    assert "Apply app/0003_create_tag" in plan.out_lines

    r = p.run("migrate", "--env", "production")
    assert r.code == 0, r
    assert "skipped 1 (skip_on): app/0002_seed_demo" in r.stdout
    assert rows(p.database, "SELECT title FROM post") == []  # the gated SQL did not run
    assert rows(p.database, "SELECT COUNT(*) FROM tag") == [(0,)]  # later migrations applied

    shown = p.run("showmigrations")
    assert "[-] app/0002_seed_demo  (skipped on production)" in shown.out_lines, shown
    assert "[X] app/0003_create_tag" in shown.out_lines
    assert "not yet applied" not in shown.stdout
    data = json.loads(p.run("showmigrations", "--json").stdout)
    gated = next(m for m in data["migrations"] if m["name"] == "0002_seed_demo")
    assert gated == {"plugin": "app", "name": "0002_seed_demo", "state": "skipped",
                     "marker": "[-]", "environment": "production"}  # fmt: skip
    assert data["not_applied"] == 0

    # Never run later by surprise: migrating the same database as dev has nothing to do.
    again = p.run("migrate", "--env", "dev")
    assert again.code == 0 and "No pending migrations" in again.stdout, again
    assert rows(p.database, "SELECT title FROM post") == []

    # Un-applying a skipped migration runs none of its reverse SQL: it only drops the row.
    back = p.run("migrate", "app/0001_create_post", "--allow-destructive", "--env", "dev")
    assert back.code == 0, back
    assert rows(p.database, "SELECT title FROM post") == []
    # The same files on dev: the gated migration runs.
    dev = p.run("migrate", UMBRAL_ENV="dev")
    assert dev.code == 0, dev
    assert "Applied 2 migration(s)" in dev.stdout
    assert rows(p.database, "SELECT title FROM post") == [("demo",)]
    shown = p.run("showmigrations")
    assert "[X] app/0002_seed_demo" in shown.out_lines, shown


def test_environment_from_config_and_cli_precedence(project: Project) -> None:
    p = project
    gated_history(p)
    p.write_config(env="production")
    # UMBRAL_ENV wins over the config, --env over both.
    plan = p.run("migrate", "--plan", UMBRAL_ENV="dev")
    assert "Apply app/0002_seed_demo" in plan.out_lines, plan
    plan = p.run("migrate", "--plan", "--env", "staging", UMBRAL_ENV="dev")
    assert any(line.startswith("Skip app/0002_seed_demo") for line in plan.out_lines), plan
    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(p.database, "SELECT title FROM post") == []
    assert "[-] app/0002_seed_demo  (skipped on production)" in p.run("showmigrations").out_lines


def test_gated_migration_without_an_environment_is_refused(any_project: Project) -> None:
    p = any_project
    gated_history(p)
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines[0] == (
        "error: umbral migrate: app/0002_seed_demo is skipped on staging, production (its "
        "`skip_on`), and no environment is named; pass --env NAME, set UMBRAL_ENV, or set "
        "`env` in the project config"
    ), r
    assert "post" not in schema_of(p.database)  # refused before anything ran


def test_bad_environment_names(project: Project) -> None:
    p = project
    gated_history(p)
    r = p.run("migrate", "--env", "prod uction")
    assert r.code == 1 and r.err_lines[0].startswith("error: --env 'prod uction' is not an"), r
    path = p.root / "migrations" / "app" / "0002_seed_demo.json"
    data = json.loads(path.read_text())
    data["skip_on"] = "production"
    path.write_text(json.dumps(data))
    r = p.run("migrate", "--env", "dev")
    assert r.code == 1, r
    assert "0002_seed_demo.json: `skip_on` must be a list of strings" in r.stderr, r
