"""Commands that only read leave the database alone, and the migration graph's edge cases are
reported as what they are (a missing dependency, a squash completed by this run, a plan that
only records, a models module that does not import)."""

from __future__ import annotations

import pytest

from conftest import Project

POST = """
class Post(Model):
    title = fields.Text()
"""


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
        (("migrate", "--plan"), ["Apply app/0001_create_post", "    Create table post"]),
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


def test_sqlmigrate_and_makemigrations_check_open_no_database(project: Project) -> None:
    p = project
    p.models(POST)
    assert p.run("makemigrations").code == 0
    for args in (("sqlmigrate", "app/0001_create_post"), ("makemigrations", "--check")):
        r = p.run(*args, "--database", "sqlite:///typo.sqlite3")
        assert r.code == 0, r
        assert r.stderr == "", r
    assert not (p.root / "typo.sqlite3").exists()


def test_the_file_is_created_by_migrate_and_then_read(project: Project) -> None:
    p = project
    p.models(POST)
    assert p.run("makemigrations").code == 0
    assert p.run("migrate", "--database", "sqlite:///new.sqlite3").code == 0
    r = p.run("showmigrations", "--database", "sqlite:///new.sqlite3")
    assert (r.code, r.out_lines, r.stderr) == (0, ["# plugin: app", "[X] app/0001_create_post"], "")
