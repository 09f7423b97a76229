"""Commands that only read leave the database alone, and the migration graph's edge cases are
reported as what they are (a missing dependency, a squash completed by this run, a plan that
only records, a models module that does not import)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import Project, execute, rows, schema_of

POST = """
class Post(Model):
    title = fields.Text()
"""


#: ``migrate --plan`` on an empty database with one migration.
FAST_PLAN = [
    "Path: fast path: the database is empty; the schema of app/0001_create_post is built from "
    "the snapshots and 1 migration(s) are recorded in one transaction",
    "Build app at app/0001_create_post",
    "    Create table post",
    "Record app/0001_create_post (no SQL: built from the snapshots)",
]


def recorded(p: Project) -> list[str]:
    return sorted(
        f"{a}/{b}" for a, b in rows(p.database, "SELECT plugin, name FROM umbral_migrations")
    )


def tables(url: str) -> list[str]:
    return sorted(schema_of(url))


def not_created_note(path: str) -> str:
    return (
        f"note: database {path} does not exist yet: read as empty, and not created "
        "(`umbral migrate` creates it)"
    )


# -- item: read-only commands and a SQLite file that does not exist -----------------------


@pytest.mark.parametrize(
    ("args", "stdout"),
    [
        (("showmigrations",), ["# plugin: app", "[ ] app/0001_create_post", "",
                               "1 migration(s) not yet applied."]),
        (("showmigrations", "--json"), None),
        (("checkmigrations",), ["Checking 1 operation(s) across 1 pending migration(s)...", "",
                                "Summary: 1 safe, 0 warning, 0 unsafe.", "",
                                "All pending operations are safe for a rolling deploy."]),
        (("checkmigrations", "--strict", "--json"), None),
        (("migrate", "--plan"), FAST_PLAN),
        (("migrate", "app/zero", "--plan"), ["No pending migrations"]),
    ],
)  # fmt: skip
def test_read_only_commands_do_not_create_a_sqlite_file(
    project: Project, args: tuple[str, ...], stdout: list[str] | None
) -> None:
    p = project
    p.models(POST)
    assert p.run("makemigrations").code == 0
    typo = p.root / "typo.sqlite3"
    r = p.run(*args, "--database", "sqlite:///typo.sqlite3")
    assert r.code == 0, r
    assert r.err_lines == [not_created_note(str(typo))], r
    if stdout is not None:
        assert r.out_lines == stdout, r
    assert not typo.exists()
    assert sorted(x.name for x in p.root.iterdir() if x.suffix == ".sqlite3") == []


def test_sqlmigrate_makemigrations_and_inspectdb_create_no_database(project: Project) -> None:
    p = project
    p.models(POST)
    assert p.run("makemigrations").code == 0
    for args in (("sqlmigrate", "app/0001_create_post"), ("makemigrations", "--check")):
        r = p.run(*args, "--database", "sqlite:///typo.sqlite3")
        assert r.code == 0, r
        assert r.stderr == "", r
    # inspectdb reads a source that must exist: it says so, and creates nothing either.
    r = p.run("inspectdb", "typo.sqlite3", "--output", "adopted")
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: umbral inspectdb: cannot connect to database sqlite:///{p.root / 'typo.sqlite3'}: "
        f"no SQLite database file at {p.root / 'typo.sqlite3'}"
    ], r
    assert not (p.root / "typo.sqlite3").exists() and not (p.root / "adopted").exists()


def test_the_file_is_created_by_migrate_and_then_read(project: Project) -> None:
    p = project
    p.models(POST)
    assert p.run("makemigrations").code == 0
    assert p.run("migrate", "--database", "sqlite:///new.sqlite3").code == 0
    r = p.run("showmigrations", "--database", "sqlite:///new.sqlite3")
    assert (r.code, r.out_lines, r.stderr) == (0, ["# plugin: app", "[X] app/0001_create_post"], "")


# -- the migration graph ---------------------------------------------------------------------


def two_migrations(p: Project) -> None:
    p.models(POST)
    assert p.run("makemigrations").code == 0
    p.models(POST + "    body = fields.Text(nullable=True)\n")
    assert p.run("makemigrations").code == 0
    assert p.migration_files() == ["0001_create_post.json", "0002_add_post_body.json"]


def test_a_missing_dependency_is_named_not_taken_for_a_branch(any_project: Project) -> None:
    p = any_project
    two_migrations(p)
    path = p.root / "migrations" / "app" / "0002_add_post_body.json"
    data = json.loads(path.read_text())
    data["depends_on"] = ["app/0001_create_pots"]  # a typo
    path.write_text(json.dumps(data, indent=2))
    message = f"error: migration file {path}: depends on app/0001_create_pots, which is "
    fix = "; restore that file or fix `depends_on`"
    before = p.tree()
    for args in (("migrate",), ("migrate", "--plan"), ("checkmigrations",)):
        r = p.run(*args)
        assert (r.code, r.err_lines) == (
            1,
            [message + "neither on disk nor recorded as applied" + fix],
        ), r
    for args in (("makemigrations",), ("makemigrations", "--merge"), ("squashmigrations", "app")):
        r = p.run(*args)
        assert (r.code, r.err_lines) == (1, [message + "not on disk" + fix]), r
    r = p.run("showmigrations")
    assert r.code == 0, r
    assert r.err_lines[-1] == message + "neither on disk nor recorded as applied" + fix
    assert p.tree() == before
    assert "conflicting" not in r.stderr


def test_a_squash_completed_by_this_run_is_recorded_in_it(any_project: Project) -> None:
    p = any_project
    body = POST
    for column in ("", "slug", "views", "tag"):
        body += f"    {column} = fields.Text(nullable=True)\n" if column else ""
        p.models(body)
        assert p.run("makemigrations").code == 0
    assert p.run("migrate", "app/0001_create_post").code == 0
    assert p.run("squashmigrations", "app", "--to", "0003_add_post_views").code == 0
    squash = "app/0001_squashed_0003"

    # Up to a target inside the squash: the squash is not complete, so not recorded.
    r = p.run("migrate", "app/0002_add_post_slug")
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r
    assert squash not in recorded(p)

    r = p.run("migrate", "--plan")
    assert r.out_lines == [
        "Apply app/0003_add_post_views",
        "    Add column views to post",
        f"Record {squash} (no SQL: it replaces migrations applied before it)",
        "Apply app/0004_add_post_tag",
        "    Add column tag to post",
    ], r
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 2 migration(s)"]), r
    assert squash in recorded(p)
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["No pending migrations"]), r


def test_a_squash_is_not_recorded_when_its_last_original_fails(any_project: Project) -> None:
    p = any_project
    body = POST
    for column in ("", "slug", "views"):
        body += f"    {column} = fields.Text(nullable=True)\n" if column else ""
        p.models(body)
        assert p.run("makemigrations").code == 0
    assert p.run("migrate", "app/0001_create_post").code == 0
    assert p.run("squashmigrations", "app").code == 0
    execute(p.database, "ALTER TABLE post ADD COLUMN views TEXT")  # 0003 will fail
    r = p.run("migrate")
    assert r.code == 1, r
    assert recorded(p) == ["app/0001_create_post", "app/0002_add_post_slug"]
    execute(p.database, "ALTER TABLE post DROP COLUMN views")
    r = p.run("migrate")
    assert (r.code, r.out_lines) == (0, ["Applied 1 migration(s)"]), r
    assert "app/0001_squashed_0003" in recorded(p)


def test_fake_initial_plan_prints_what_it_will_record(any_project: Project) -> None:
    p = any_project
    two_migrations(p)
    # Tables that already exist, as another tool left them: umbral's own, untracked.
    assert p.run("migrate", "app/0001_create_post").code == 0
    execute(p.database, "DROP TABLE umbral_migrations")
    r = p.run("migrate", "--fake-initial", "--plan")
    assert (r.code, r.out_lines) == (
        0,
        [
            "Record app/0001_create_post (no SQL: its tables already exist)",
            "Apply app/0002_add_post_body",
            "    Add column body to post",
        ],
    ), r
    assert "umbral_migrations" not in tables(p.database)  # a plan writes nothing
    r = p.run("migrate", "--fake-initial")
    assert r.out_lines == [
        "Fake-applied initial migration for 1 plugin(s)",
        "Applied 1 migration(s)",
    ], r
    assert recorded(p) == ["app/0001_create_post", "app/0002_add_post_body"]


def test_fake_initial_plan_refuses_tables_that_differ(any_project: Project) -> None:
    p = any_project
    two_migrations(p)
    execute(p.database, "CREATE TABLE post (id INTEGER PRIMARY KEY, other TEXT)")
    r = p.run("migrate", "--fake-initial", "--plan")
    assert r.code == 1, r
    assert r.err_lines[0].startswith(
        "error: umbral migrate --fake-initial: existing tables do not match"
    ), r


# -- showmigrations reads files and tracking rows only --------------------------------------


def test_showmigrations_does_not_import_the_models(project: Project) -> None:
    p = project
    two_migrations(p)
    assert p.run("migrate", "app/0001_create_post").code == 0
    p.models(
        POST
        + "\nimport pathlib\npathlib.Path('imported').write_text('yes')\n"
        + "raise RuntimeError('an edit in progress')\n"
    )
    r = p.run("showmigrations")
    assert (r.code, r.out_lines, r.stderr) == (
        0,
        ["# plugin: app", "[X] app/0001_create_post", "[ ] app/0002_add_post_body", "",
         "1 migration(s) not yet applied."],
        "",
    ), r  # fmt: skip
    assert not (p.root / "imported").exists()
    # The commands that need the models still say why they cannot run.
    r = p.run("makemigrations")
    assert r.code == 1, r
    assert "models module `models` failed to import: RuntimeError: an edit in progress" in r.stderr


# -- the Python API ---------------------------------------------------------------------------


def test_star_import_of_umbral_inspect() -> None:
    code = "from umbral.inspect import *; print(sorted(n for n in dir() if not n.startswith('_')))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "inspectdb" in proc.stdout and "RawTable" in proc.stdout
