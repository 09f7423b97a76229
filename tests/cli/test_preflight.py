"""A migration that would fail on what the table holds is refused before its first statement
(``umbral.preflight``): a unique column every existing row would get one value in. On MySQL /
MariaDB, whose DDL commits statement by statement, it used to stop part way, after the
migration's earlier statements (a dropped column stayed dropped)."""

from __future__ import annotations

from conftest import Project, backend_name, execute, rows, schema_of

BEFORE = """
class Post(Model):
    old = fields.Integer(nullable=True)
    n = fields.Integer(default=0)
"""

# `old` dropped first, then a unique column every row gets the default of.
UNIQUE_DEFAULT = """
class Post(Model):
    n = fields.Integer(default=0)
    code = fields.Text(max_length=20, unique=True, default="x")
"""

# Two columns added with defaults, then made unique together (an AddIndex after them).
TOGETHER = """
class Post(Model, unique_together=[("code", "kind")]):
    n = fields.Integer(default=0)
    code = fields.Text(max_length=20, default="x")
    kind = fields.Integer(default=1)
"""


def prepared(p: Project, count: int, after: str) -> str:
    """Post with ``count`` rows, then the change to ``after`` made; the new migration's name."""
    p.models(BEFORE)
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    if count:
        execute(p.database, "INSERT INTO post (old, n) VALUES " + ", ".join(["(1, 0)"] * count))
    p.models(after)
    r = p.run("makemigrations")
    assert r.code == 0, r
    return p.migration_files()[-1].removesuffix(".json")


def column_names(url: str) -> list[str]:
    return [c[0] for c in schema_of(url)["post"]["columns"]]


def assert_nothing_ran(p: Project, name: str, before: dict) -> None:
    assert schema_of(p.database) == before  # `old` is still there
    assert "old" in column_names(p.database)
    r = p.run("showmigrations")
    assert f"[ ] app/{name}" in [line.strip() for line in r.out_lines], r  # not [/]: no progress
    assert rows(p.database, f"SELECT count(*) FROM umbral_migrations WHERE name = '{name}'") == [
        (0,)
    ]


def test_a_unique_column_with_a_default_on_rows_is_refused_first(any_project: Project) -> None:
    p = any_project
    name = prepared(p, 2, UNIQUE_DEFAULT)
    ops = [o["kind"] for o in p.load_migration("app", f"{name}.json")["operations"]]
    assert ops == ["DropColumn", "AddColumn"]
    before = schema_of(p.database)
    r = p.run("migrate", "--allow-destructive")
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: migration app/{name}: operation #2 (AddColumn) adds the unique column "
        '`post.code` with its default "x", but the table `post` holds more than one row: '
        "every row would get the same value; add the column nullable without the default, "
        "fill in distinct values (RunSql or RunPython), then make it unique in a later "
        "migration; nothing of it was run"
    ], r
    assert "Traceback" not in r.stderr
    assert_nothing_ran(p, name, before)
    # With one row left, the same migration applies.
    execute(p.database, "DELETE FROM post WHERE id = (SELECT min(id) FROM post)")
    r = p.run("migrate", "--allow-destructive")
    assert r.code == 0, r
    assert column_names(p.database) == ["id", "n", "code"]


def test_a_unique_index_over_columns_added_with_defaults_is_refused_first(
    any_project: Project,
) -> None:
    p = any_project
    name = prepared(p, 3, TOGETHER)
    ops = [o["kind"] for o in p.load_migration("app", f"{name}.json")["operations"]]
    assert ops == ["DropColumn", "AddColumn", "AddColumn", "AddIndex"]
    before = schema_of(p.database)
    r = p.run("migrate", "--allow-destructive")
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: migration app/{name}: operation #4 (AddIndex) makes `post` (code, kind) "
        'unique, and operation #2 added `code` with its default "x", but the table `post` '
        "holds more than one row: every row would get the same value; add the column "
        "nullable without the default, fill in distinct values (RunSql or RunPython), then "
        "make it unique in a later migration; nothing of it was run"
    ], r
    assert "Traceback" not in r.stderr
    assert_nothing_ran(p, name, before)


# A column added with a default, made unique together with a column the rows hold.
BESIDE_EXISTING = """
class Post(Model, unique_together=[("n", "code")]):
    n = fields.Integer(default=0)
    code = fields.Text(max_length=20, default="x")
"""


def test_a_unique_index_over_an_added_column_and_a_held_one_is_refused_first(
    any_project: Project,
) -> None:
    """Every row gets the added column's default, so rows that share `n` collide. MySQL /
    MariaDB found it only at the index's own statement, with `old` already dropped and
    `code` added: the migration stayed half-applied."""
    p = any_project
    name = prepared(p, 3, BESIDE_EXISTING)
    ops = [o["kind"] for o in p.load_migration("app", f"{name}.json")["operations"]]
    assert ops == ["DropColumn", "AddColumn", "AddIndex"]
    before = schema_of(p.database)
    r = p.run("migrate", "--allow-destructive")
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: migration app/{name}: operation #3 (AddIndex) makes `post` (n, code) unique, "
        'and operation #2 added `code` with its default "x", but rows of `post` share (n): 0 '
        "(3 rows); with one value for the added column they would collide; remove or change "
        "those duplicates first (for instance with a RunSql migration before this one), or "
        "fill the added column with distinct values before making it unique; nothing of it "
        "was run"
    ], r
    assert "Traceback" not in r.stderr
    assert_nothing_ran(p, name, before)
    execute(p.database, "UPDATE post SET n = id")
    r = p.run("migrate", "--allow-destructive")
    assert r.code == 0, r
    assert column_names(p.database) == ["id", "n", "code"]


# A foreign key moved to another table, made NOT NULL with a one-off value (``KeyHolds``).
TEAMS = """
class Team(Model):
    name = fields.Text(max_length=20)

class Writer(Model):
    name = fields.Text(max_length=20)

class Post(Model):
    title = fields.Text(max_length=20)
    editor = fields.ForeignKey("Team", on_delete="cascade"{extra})
"""


def teams(extra: str = "", target: str = "Team") -> str:
    return TEAMS.format(extra=extra).replace('ForeignKey("Team"', f'ForeignKey("{target}"')


def assert_key_kept(p: Project, name: str, before: dict) -> None:
    assert schema_of(p.database) == before  # the key is still there, as it was
    assert schema_of(p.database)["post"]["fks"] == [(("editor",), "team")]
    r = p.run("showmigrations")
    assert f"[ ] app/{name}" in [line.strip() for line in r.out_lines], r  # not [/]: no progress
    assert rows(p.database, f"SELECT count(*) FROM umbral_migrations WHERE name = '{name}'") == [
        (0,)
    ]


def test_a_key_moved_to_a_table_without_the_rows_values_is_refused_first(
    any_project: Project,
) -> None:
    p = any_project
    p.models(teams())
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(
        p.database,
        "INSERT INTO team (id, name) VALUES (5, 't')",
        "INSERT INTO writer (id, name) VALUES (1, 'w')",
        "INSERT INTO post (title, editor) VALUES ('a', 5)",
        "INSERT INTO post (title, editor) VALUES ('b', 5)",
    )
    p.models(teams(target="Writer"))
    assert p.run("makemigrations").code == 0
    name = p.migration_files()[-1].removesuffix(".json")
    before = schema_of(p.database)
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: migration app/{name}: operation #1 (AlterColumn) makes `post.editor` a "
        "foreign key to `writer` (id), but 2 rows hold values with no row there (e.g. 5): the "
        "key could not be added; fix or delete those rows first (for instance with a RunSql "
        "migration before this one); nothing of it was run"
    ], r
    assert "Traceback" not in r.stderr
    assert_key_kept(p, name, before)
    # With the writer there, the same migration applies.
    execute(p.database, "INSERT INTO writer (id, name) VALUES (5, 'w5')")
    r = p.run("migrate")
    assert r.code == 0, r
    assert schema_of(p.database)["post"]["fks"] == [(("editor",), "writer")]


def test_a_key_moved_back_to_a_table_without_the_rows_values_is_refused_first(
    any_project: Project,
) -> None:
    p = any_project
    p.models(teams())
    assert p.run("makemigrations").code == 0
    first = p.migration_files()[-1].removesuffix(".json")
    assert p.run("migrate").code == 0
    p.models(teams(target="Writer"))
    assert p.run("makemigrations").code == 0
    name = p.migration_files()[-1].removesuffix(".json")
    assert p.run("migrate").code == 0
    execute(
        p.database,
        "INSERT INTO writer (id, name) VALUES (3, 'w')",
        "INSERT INTO post (title, editor) VALUES ('a', 3)",
    )
    before = schema_of(p.database)
    r = p.run("migrate", f"app/{first}")
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: migration app/{name}: operation #1 (AlterColumn) makes `post.editor` a "
        "foreign key to `team` (id), but 1 row holds a value with no row there (e.g. 3): the "
        "key could not be added; fix or delete those rows first (for instance with a RunSql "
        "migration before this one); nothing of it was run"
    ], r
    assert "Traceback" not in r.stderr
    assert schema_of(p.database) == before
    assert schema_of(p.database)["post"]["fks"] == [(("editor",), "writer")]
    r = p.run("showmigrations")
    assert f"[X] app/{name}" in [line.strip() for line in r.out_lines], r  # not [/]
    assert rows(p.database, f"SELECT count(*) FROM umbral_migrations WHERE name = '{name}'") == [
        (1,)
    ]


def test_a_backfill_with_no_row_in_the_keys_table_is_refused_first(any_project: Project) -> None:
    p = any_project
    p.models(teams(", nullable=True").replace('on_delete="cascade"', 'on_delete="restrict"'))
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(
        p.database,
        "INSERT INTO team (id, name) VALUES (1, 't')",
        "INSERT INTO post (title, editor) VALUES ('a', 1)",
        "INSERT INTO post (title, editor) VALUES ('b', NULL)",
    )
    # The key's ON DELETE changes too: MySQL drops the key before the fill.
    p.models(teams())
    r = p.run("makemigrations", "--backfill", "Post.editor=99")
    assert r.code == 0, r
    name = p.migration_files()[-1].removesuffix(".json")
    before = schema_of(p.database)
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: migration app/{name}: operation #1 (AlterColumn) fills the NULLs of "
        "`post.editor` with the one-off value 99, but `team` has no row with id 99: the "
        "foreign key to it could not be added; give a value `team` holds (make the migration "
        "again), or add that row first (for instance with a RunSql migration before this "
        "one); nothing of it was run"
    ], r
    assert "Traceback" not in r.stderr
    assert_key_kept(p, name, before)
    assert rows(p.database, "SELECT title, editor FROM post ORDER BY title") == [
        ("a", 1),
        ("b", None),
    ]
    # With team 99 there, the same migration applies.
    execute(p.database, "INSERT INTO team (id, name) VALUES (99, 'x')")
    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(p.database, "SELECT title, editor FROM post ORDER BY title") == [
        ("a", 1),
        ("b", 99),
    ]


# A table made first, then the existing `n` made unique over rows that repeat its values.
UNIQUE_EXISTING = """
class Post(Model):
    old = fields.Integer(nullable=True)
    n = fields.Integer(default=0, unique=True)

class Tag(Model):
    name = fields.Text(max_length=20)
"""


def test_duplicates_under_an_existing_column_made_unique_are_refused_first(
    any_project: Project,
) -> None:
    """MySQL / MariaDB looked for the duplicates only at the unique key's own statement, after
    the table made before it had committed: the migration stayed half-applied."""
    p = any_project
    name = prepared(p, 3, UNIQUE_EXISTING)
    ops = [o["kind"] for o in p.load_migration("app", f"{name}.json")["operations"]]
    assert ops == ["CreateTable", "AlterColumn"]
    before = schema_of(p.database)
    r = p.run("migrate")
    assert r.code == 1, r
    assert f"app/{name}" in r.err_lines[0], r
    assert "cannot make `post.n` unique: duplicated values: 0 (3 rows)" in r.err_lines[0], r
    if backend_name(p.database) == "mysql":  # before the table was made
        assert r.err_lines[0].startswith(f"error: migration app/{name}: operation #2"), r
        assert r.err_lines[0].endswith("nothing of it was run"), r
    assert "Traceback" not in r.stderr
    assert_nothing_ran(p, name, before)
    execute(p.database, "UPDATE post SET n = id")
    r = p.run("migrate")
    assert r.code == 0, r
    assert "tag" in schema_of(p.database)


# Post without its key, then a table made and the key added with a default for the rows.
TEAMS_NO_KEY = """
class Team(Model):
    name = fields.Text(max_length=20)

class Post(Model):
    title = fields.Text(max_length=20)
"""
KEY_ADDED = """
class Team(Model):
    name = fields.Text(max_length=20)

class Post(Model):
    title = fields.Text(max_length=20)
    editor = fields.ForeignKey("Team", on_delete="cascade", default={default})

class Tag(Model):
    name = fields.Text(max_length=20)
"""


def test_a_key_column_added_with_a_value_no_row_has_is_refused_first(
    any_project: Project,
) -> None:
    """A new foreign-key column every row gets its default (or a one-off value) in, where the
    target table has no such row: MySQL / MariaDB made the table before it and stopped at the
    column, the migration left half-applied."""
    p = any_project
    p.models(TEAMS_NO_KEY)
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(p.database, "INSERT INTO team (id, name) VALUES (1, 't')",
            "INSERT INTO post (title) VALUES ('a'), ('b')")  # fmt: skip
    p.models(KEY_ADDED.format(default=7))
    r = p.run("makemigrations")
    assert r.code == 0, r
    name = p.migration_files()[-1].removesuffix(".json")
    ops = [o["kind"] for o in p.load_migration("app", f"{name}.json")["operations"]]
    assert ops == ["CreateTable", "AddColumn"], ops
    before = schema_of(p.database)
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: migration app/{name}: operation #2 (AddColumn) adds `post.editor`, a foreign "
        "key, with its default 7 for the rows the table holds, but `team` has no row with id "
        "7: the foreign key to it could not be added; give a value `team` holds (make the "
        "migration again), or add that row first (for instance with a RunSql migration "
        "before this one); nothing of it was run"
    ], r
    assert_nothing_ran_here(p, name, before)
    execute(p.database, "INSERT INTO team (id, name) VALUES (7, 'x')")
    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(p.database, "SELECT title, editor FROM post ORDER BY title") == [
        ("a", 7),
        ("b", 7),
    ]


def assert_nothing_ran_here(p: Project, name: str, before: dict) -> None:
    assert schema_of(p.database) == before
    r = p.run("showmigrations")
    assert f"[ ] app/{name}" in [line.strip() for line in r.out_lines], r


# A NOT NULL column without a default.
NOT_NULL = """
class Post(Model):
    old = fields.Integer(nullable=True)
    n = fields.Integer(default=0)
    color = fields.Text(max_length=20)

class Tag(Model):
    name = fields.Text(max_length=20)
"""


def test_a_not_null_column_with_no_value_for_the_rows_is_refused_first(
    any_project: Project,
) -> None:
    """A migration file written (or edited) by hand that adds a NOT NULL column with no default
    and no one-off value: MariaDB made the table before it, then filled every row with ''
    and recorded the migration; PostgreSQL and SQLite refused it at the column."""
    import json

    p = any_project
    p.models(BEFORE)
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(p.database, "INSERT INTO post (old, n) VALUES (1, 0), (2, 0)")
    p.models(NOT_NULL)
    r = p.run("makemigrations", "--backfill", "Post.color=x")
    assert r.code == 0, r
    path = p.root / "migrations" / "app" / p.migration_files()[-1]
    name = path.stem
    data = json.loads(path.read_text())
    assert [o["kind"] for o in data["operations"]] == ["CreateTable", "AddColumn"], data
    del data["operations"][1]["backfill"]
    path.write_text(json.dumps(data, indent=2))
    before = schema_of(p.database)
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: migration app/{name}: operation #2 (AddColumn) adds the NOT NULL column "
        "`post.color` with no default and no value for existing rows, but the table `post` "
        "holds rows; give the column a default, add it nullable, or make the migration again "
        "with `makemigrations --backfill Model.color=VALUE`; nothing of it was run"
    ], r
    assert_nothing_ran_here(p, name, before)
    # On an empty table it applies.
    execute(p.database, "DELETE FROM post")
    r = p.run("migrate")
    assert r.code == 0, r
    assert "color" in column_names(p.database)

# A key moved to a model keyed by text, and back (``KeyHolds.as_text``).
COUNTRIES = """
class Team(Model):
    name = fields.Text(max_length=20)

class Country(Model):
    code = fields.Text(max_length=8, primary_key=True)

class Post(Model):
    title = fields.Text(max_length=20)
    editor = fields.ForeignKey("{target}", nullable=True)
"""


def test_a_key_moved_to_a_model_keyed_by_another_type_takes_that_type(
    any_project: Project,
) -> None:
    """The column changes type with its key, values kept, on every backend (PostgreSQL
    refused the type change under the old key; MySQL/MariaDB stopped part way going back);
    a value the other type's table does not hold is refused before the first statement."""
    p = any_project
    p.models(COUNTRIES.format(target="Team"))
    assert p.run("makemigrations").code == 0
    first = p.migration_files()[-1].removesuffix(".json")
    assert p.run("migrate").code == 0
    execute(
        p.database,
        "INSERT INTO team (id, name) VALUES (1, 't')",
        "INSERT INTO country (code) VALUES ('1'), ('FR')",
        "INSERT INTO post (title, editor) VALUES ('a', 1), ('b', NULL)",
    )
    p.models(COUNTRIES.format(target="Country"))
    assert p.run("makemigrations").code == 0
    name = p.migration_files()[-1].removesuffix(".json")
    r = p.run("migrate")
    assert r.code == 0, r
    assert schema_of(p.database)["post"]["fks"] == [(("editor",), "country")]
    assert rows(p.database, "SELECT title, editor FROM post ORDER BY title") == [
        ("a", "1"), ("b", None)
    ]  # fmt: skip
    r = p.run("checkschema")
    assert r.code == 0, r

    execute(p.database, "INSERT INTO post (title, editor) VALUES ('c', 'FR')")
    before = schema_of(p.database)
    r = p.run("migrate", f"app/{first}")
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: migration app/{name}: operation #1 (AlterColumn) makes `post.editor` a "
        'foreign key to `team` (id), but 1 row holds a value with no row there (e.g. "FR"): '
        "the key could not be added; fix or delete those rows first (for instance with a "
        "RunSql migration before this one); nothing of it was run"
    ], r
    assert schema_of(p.database) == before
    assert p.run("checkschema").code == 0

    execute(p.database, "DELETE FROM post WHERE title = 'c'")
    r = p.run("migrate", f"app/{first}")
    assert r.code == 0, r
    assert schema_of(p.database)["post"]["fks"] == [(("editor",), "team")]
    assert rows(p.database, "SELECT title, editor FROM post ORDER BY title") == [
        ("a", 1), ("b", None)
    ]  # fmt: skip
    r = p.run("checkschema")
    assert r.code == 0, r


UNIQUE_NULLABLE = """
class Post(Model):
    old = fields.Integer(nullable=True)
    code = fields.Text(max_length=20, nullable=True, unique=True)
"""

# A table made first, then the unique `code` made NOT NULL: its NULLs get the default.
UNIQUE_FILLED = """
class Post(Model):
    old = fields.Integer(nullable=True)
    code = fields.Text(max_length=20, unique=True, default="x")

class Tag(Model):
    name = fields.Text(max_length=20)
"""


def filled(p: Project, codes: list[str | None], after: str, *args: str) -> str:
    """Post holding ``codes``, then the change to ``after`` made (``args`` to makemigrations);
    the new migration's name."""
    p.models(UNIQUE_NULLABLE)
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    values = ", ".join("(1, NULL)" if c is None else f"(1, '{c}')" for c in codes)
    execute(p.database, f"INSERT INTO post (old, code) VALUES {values}")
    p.models(after)
    r = p.run("makemigrations", *args)
    assert r.code == 0, r
    return p.migration_files()[-1].removesuffix(".json")


def test_a_unique_column_made_not_null_over_two_nulls_is_refused_first(
    any_project: Project,
) -> None:
    """Every NULL of a unique column gets the one default: two of them would collide. The
    database refused it at the fill's own statement (on MySQL / MariaDB after the migration's
    earlier statements had committed; on SQLite naming a statement that was not the cause)."""
    p = any_project
    name = filled(p, [None, None, "a"], UNIQUE_FILLED)
    ops = [o["kind"] for o in p.load_migration("app", f"{name}.json")["operations"]]
    assert ops == ["CreateTable", "AlterColumn"]
    before = schema_of(p.database)
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: migration app/{name}: operation #2 (AlterColumn) fills the NULLs of the "
        'unique column `post.code` with its default "x", but 2 rows hold NULL there: with '
        "that one value they would collide; give those rows distinct values first (for "
        "instance with a RunSql migration before this one), or keep the column nullable; "
        "nothing of it was run"
    ], r
    assert_nothing_ran(p, name, before)
    # One NULL left, beside a row already holding the default: still a collision.
    execute(p.database, "UPDATE post SET code = 'x' WHERE id = 1")
    r = p.run("migrate")
    assert r.code == 1, r
    assert "but 1 row holds NULL there and another holds that value already" in r.stderr, r
    assert_nothing_ran(p, name, before)
    # Distinct values: it applies, the last NULL taking the default.
    execute(p.database, "UPDATE post SET code = 'b' WHERE id = 1")
    r = p.run("migrate")
    assert r.code == 0, r
    assert rows(p.database, "SELECT code FROM post ORDER BY id") == [("b",), ("x",), ("a",)]


def test_a_unique_column_made_not_null_with_a_backfill_over_two_nulls_is_refused_first(
    any_project: Project,
) -> None:
    p = any_project
    after = UNIQUE_FILLED.replace(', default="x"', "")
    name = filled(p, [None, None], after, "--backfill", "Post.code=z")
    before = schema_of(p.database)
    r = p.run("migrate")
    assert r.code == 1, r
    assert (
        'unique column `post.code` with the one-off value "z", but 2 rows hold NULL there'
        in r.err_lines[0]
    ), r
    assert r.err_lines[0].endswith("nothing of it was run"), r
    assert_nothing_ran(p, name, before)


# A column of choices, with a column dropped before its change (as in BEFORE).
STATUSES = """
class Post(Model):
    old = fields.Integer(nullable=True)
    status = fields.Text(max_length=20, default="draft", choices={choices})
"""


def test_choices_without_a_value_rows_hold_are_refused_first(any_project: Project) -> None:
    """A value taken out of the choices while rows hold it (a column dropped after it): on
    MySQL / MariaDB the old CHECK was dropped, the new one refused (error 4025), the migration
    left part way with no CHECK. SQLite keeps no CHECK of the choices, and applies it."""
    p = any_project
    p.models(STATUSES.format(choices='["draft", "live", "gone"]'))
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(
        p.database,
        "INSERT INTO post (old, status) VALUES (1, 'draft'), (2, 'gone'), (3, 'gone')",
    )
    p.models(STATUSES.format(choices='["draft", "live", "archived"]').replace(
        "    old = fields.Integer(nullable=True)\n", ""))  # fmt: skip
    assert p.run("makemigrations").code == 0
    name = p.migration_files()[-1].removesuffix(".json")
    before = schema_of(p.database)
    r = p.run("migrate", "--allow-destructive")
    if backend_name(p.database) == "sqlite":
        assert r.code == 0, r
        return
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: migration app/{name}: operation #1 (AlterColumn) limits `post.status` to the "
        'choices "draft", "live", "archived", but 2 rows hold other values (e.g. "gone"): '
        "the CHECK of the choices could not be added; change or delete those rows first (for "
        "instance with a RunSql migration before this one), or keep that value among the "
        "choices; nothing of it was run"
    ], r
    assert_nothing_ran(p, name, before)
    execute(p.database, "UPDATE post SET status = 'live' WHERE status = 'gone'")
    r = p.run("migrate", "--allow-destructive")
    assert r.code == 0, r
    assert p.run("checkschema").code == 0
    statuses = rows(p.database, "SELECT status FROM post ORDER BY id")
    assert statuses == [("draft",), ("live",), ("live",)]
