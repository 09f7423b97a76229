"""``migrate --record-only``: the plan to a target (or the head) written to and deleted from
the tracking table without running any SQL, for a schema changed by hand, as Django's
``migrate app 0001 --fake`` and Atlas's ``migrate set`` do."""

from __future__ import annotations

import json

from conftest import Project, execute, rows, schema_of

POST = "class Post(Model):\n    title = fields.Text()\n"
SLUG = POST + "    slug = fields.Text(nullable=True)\n"
FIRST, SECOND = "app/0001_create_post", "app/0002_add_post_slug"
WHY = "no SQL: --record-only: the schema was changed by hand"


def history(p: Project) -> None:
    p.models(POST)
    assert p.run("makemigrations").code == 0
    p.models(SLUG)
    assert p.run("makemigrations").code == 0


def recorded(p: Project) -> list[str]:
    return sorted(
        f"{a}/{b}" for a, b in rows(p.database, "SELECT plugin, name FROM umbral_migrations")
    )


def test_a_migration_undone_by_hand_is_unrecorded_then_applied_again(
    any_project: Project,
) -> None:
    p = any_project
    history(p)
    assert p.run("migrate").code == 0
    execute(p.database, "INSERT INTO post (title, slug) VALUES ('kept', 's')")
    execute(p.database, "ALTER TABLE post DROP COLUMN slug")  # the rollback, done by hand
    shape = schema_of(p.database)

    r = p.run("migrate", FIRST, "--record-only", "--plan")
    assert (r.code, r.out_lines) == (0, [f"Unrecord {SECOND} ({WHY})"]), r
    assert recorded(p) == [FIRST, SECOND]
    r = p.run("migrate", FIRST, "--record-only")  # no --allow-destructive: nothing is dropped
    assert (r.code, r.out_lines) == (0, [f"Unrecorded {SECOND} ({WHY})"]), r
    assert recorded(p) == [FIRST]
    assert schema_of(p.database) == shape
    assert rows(p.database, "SELECT title FROM post") == [("kept",)]
    assert p.run("checkschema").code == 0

    r = p.run("migrate")  # the column comes back by the migration itself
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r
    assert rows(p.database, "SELECT title, slug FROM post") == [("kept", None)]


def test_a_change_made_by_hand_is_recorded_without_running_it(any_project: Project) -> None:
    p = any_project
    history(p)
    assert p.run("migrate", FIRST).code == 0
    execute(p.database, "ALTER TABLE post ADD COLUMN slug TEXT")  # applied by hand
    r = p.run("migrate", "--record-only", "--json")
    assert r.code == 0, r
    data = json.loads(r.stdout)
    assert [(s["migration"], s["action"]) for s in data["steps"]] == [(SECOND, "record")]
    assert [a["migration"] for a in data["applied"]] == [SECOND]
    assert recorded(p) == [FIRST, SECOND]
    assert p.run("checkschema").code == 0
    assert p.run("makemigrations", "--check").code == 0
    r = p.run("migrate", "--record-only")
    assert r.out_lines == ["No pending migrations"], r


def test_record_only_takes_no_flag_that_runs_or_records_otherwise(project: Project) -> None:
    p = project
    history(p)
    for extra in (["--fake", FIRST], ["--fake-initial"], ["--prune"], ["--replay"],
                  ["--from-statement", "2"], ["--tenants"]):  # fmt: skip
        r = p.run("migrate", "--record-only", *extra)
        assert r.code == 2, (extra, r)
        assert "--record-only" in r.stderr, (extra, r)
    assert not (p.root / "db.sqlite3").exists() or recorded(p) == []
