"""Adding ``unique`` to an existing column, or a ``unique_together`` on existing columns: the
migration checks for duplicates first, in its own transaction, and stops naming them (up to 5,
with how many rows hold each) with nothing applied."""

from __future__ import annotations

import json

from conftest import Project, execute, is_mysql, rows, schema_of

POST = """
class Post(Model{together}):
    email = fields.Text(nullable=True{unique})
    n = fields.Integer(default=0)
"""


def post(unique: bool = False, together: bool = False) -> str:
    return POST.format(
        unique=", unique=True" if unique else "",
        together=", unique_together=[('email', 'n')]" if together else "",
    )


def applied(p: Project) -> list[str]:
    return [line.strip() for line in p.run("showmigrations").out_lines]


def with_rows(p: Project, values: list[tuple[str | None, int]]) -> None:
    p.models(post())
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    body = ", ".join(f"({'NULL' if e is None else repr(e)}, {n})" for e, n in values)
    execute(p.database, f"INSERT INTO post (email, n) VALUES {body}")


def unique_indexes(url: str) -> list[tuple[str, ...]]:
    return [cols for _, cols, unique in schema_of(url)["post"]["indexes"] if unique]


def test_adding_unique_to_a_column_without_duplicates(any_project: Project) -> None:
    p = any_project
    with_rows(p, [("a", 1), ("b", 1), (None, 1), (None, 1)])  # NULLs never collide
    p.models(post(unique=True))
    r = p.run("makemigrations")
    assert r.code == 0, r
    [op] = p.load_migration("app", p.migration_files()[-1])["operations"]
    assert op["kind"] == "AlterColumn" and op["to"]["unique"] is True
    r = p.run("migrate")
    assert r.code == 0, r
    assert unique_indexes(p.database) == [("email",)]
    assert rows(p.database, "SELECT count(*) FROM post") == [(4,)]
    # Removing it keeps working.
    p.models(post())
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    assert unique_indexes(p.database) == []


def test_duplicates_stop_the_migration_naming_them(any_project: Project) -> None:
    p = any_project
    with_rows(p, [("a", 1)] * 3 + [("b", 1)] * 2 + [("c", 1), (None, 1), (None, 1)])
    before = schema_of(p.database)
    p.models(post(unique=True))
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 1, r
    # MySQL runs a migration with DDL statement by statement: its failure names the statement
    # (the duplicate check, the first of two; nothing ran).
    failed = "failed at statement 1 of 2" if is_mysql(p.database) else "failed and was rolled back"
    assert r.err_lines[0] == (
        f"error: umbral migrate: migration app/0002_alter_post_email {failed}: "
        'cannot make `post.email` unique: duplicated values: "a" (3 rows), "b" (2 rows); '
        "remove or change the duplicates, then run migrate again"
    )
    assert schema_of(p.database) == before
    assert "[ ] app/0002_alter_post_email" in applied(p)
    assert rows(p.database, "SELECT count(*) FROM post") == [(8,)]
    # Once de-duplicated, the same migration applies.
    execute(p.database, "UPDATE post SET email = email || id WHERE email IN ('a', 'b')")
    assert p.run("migrate").code == 0
    assert unique_indexes(p.database) == [("email",)]


def test_at_most_five_duplicated_values_are_named(project: Project) -> None:
    p = project
    with_rows(p, [(v, 1) for v in "abcdefg" for _ in range(2)])
    p.models(post(unique=True))
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 1, r
    assert (
        'duplicated values: "a" (2 rows), "b" (2 rows), "c" (2 rows), "d" (2 rows), '
        '"e" (2 rows), and more; ' in r.err_lines[0]
    )


def test_unique_together_on_existing_columns(any_project: Project) -> None:
    p = any_project
    with_rows(p, [("a", 1), ("a", 1), ("a", 2), (None, 1), (None, 1)])
    p.models(post(together=True))
    r = p.run("makemigrations")
    assert r.code == 0, r
    [op] = p.load_migration("app", p.migration_files()[-1])["operations"]
    assert (op["kind"], op["unique"]) == ("AddIndex", True)
    before = schema_of(p.database)
    r = p.run("migrate")
    assert r.code == 1, r
    assert (
        'cannot make `post` (email, n) unique: duplicated values: ("a", 1) (2 rows); '
        in (r.err_lines[0])
    )
    assert schema_of(p.database) == before
    execute(
        p.database,
        "DELETE FROM post WHERE id = (SELECT max(id) FROM post WHERE email = 'a' AND n = 1)",
    )
    assert p.run("migrate").code == 0
    assert unique_indexes(p.database) == [("email", "n")]


def test_checkmigrations_warns_of_the_scan(any_project: Project) -> None:
    p = any_project
    with_rows(p, [("a", 1)])
    p.models(post(unique=True, together=True))
    assert p.run("makemigrations").code == 0
    r = p.run("checkmigrations", "--json")
    assert r.code == 0, r
    found = [
        (o["kind"], o["tier"], o["tag"], o["message"]) for o in json.loads(r.stdout)["operations"]
    ]
    assert [f[:2] for f in found] == [("AlterColumn", "WARNING"), ("AddIndex", "WARNING")]
    if p.database.startswith("sqlite"):
        assert found[0][2] == found[1][2] == "ADD UNIQUE"
        assert "scan the table under lock" in found[0][3]
    elif is_mysql(p.database):
        assert found[0][2] == found[1][2] == "MYSQL UNIQUE INDEX"
        assert "fails if existing rows have duplicates" in found[0][3]
    else:
        assert "CREATE UNIQUE INDEX CONCURRENTLY" in found[0][3]
        assert "CONCURRENTLY" in found[1][3]
