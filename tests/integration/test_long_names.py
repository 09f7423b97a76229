"""Generated names longer than the database keeps (SPEC §6 names; PostgreSQL 63 bytes, MySQL 64
characters).

PostgreSQL used to cut such a name short, so two indexes whose names differ only past the cut
became one ("already exists"), and MySQL refused them (error 1059). A longer name is now its
start and 8 hex digits of its digest: every index and constraint of a long-named table is
made, found again by later changes (a table rename, new choices, a dropped unique), and
un-applied, on every backend. A PostgreSQL database whose names were cut short by the
database before keeps working: a later rename finds them under those names.
"""

from __future__ import annotations

import pytest
from test_constraint_identity import _names

from conftest import Project, backend_name, execute, rows, schema_of
from umbral.naming import fit_identifier

LONG = "customer_subscription_renewal_reminder_delivery_attempts"  # 56 characters
RENAMED = "customer_subscription_renewal_reminder_delivery_tries"

MODELS = """
class Owner(Model):
    name = fields.Text()

class Channel(Model):
    name = fields.Text()

class Attempt(Model, table="{table}"):
    code = fields.Text({code})
    status = fields.Text(choices={choices}, default="sent")
    owner = fields.ForeignKey(Owner, nullable=True)
    reminder_sent_at = fields.Text(nullable=True, index=True)
    reminder_seen_at = fields.Text(nullable=True, index=True)
    tags = fields.ManyToMany(Channel)
"""


def _models(table: str = LONG, code: str = "unique=True", choices: str = '["sent", "seen"]') -> str:
    return MODELS.format(table=table, code=code, choices=choices)


def _migrate(p: Project) -> None:
    r = p.run("makemigrations")
    assert r.code == 0, r
    r = p.run("migrate", "--allow-destructive")
    assert r.code == 0, r
    assert p.run("makemigrations", "--check").code == 0
    r = p.run("checkschema")
    assert r.code == 0, r


def _check_names(url: str, *tables: str) -> list[str]:
    per_table = [_names(url, t) for t in tables]
    assert all(len(ns) == len(set(ns)) for ns in per_table), per_table
    names = [n for ns in per_table for n in ns]
    # SQLite has no limit: its names stay whole.
    limit = {"sqlite": None, "postgres": 63, "mysql": 64}[backend_name(url)]
    assert limit is None or all(len(n.encode()) <= limit for n in names), names
    return names


def test_long_generated_names_are_made_found_and_undone(any_project: Project) -> None:
    p, url = any_project, any_project.database
    p.models(_models())
    _migrate(p)
    execute(
        url,
        "INSERT INTO owner (name) VALUES ('o')",
        "INSERT INTO channel (name) VALUES ('c')",
        f"INSERT INTO {LONG} (code, status, owner, reminder_sent_at) "
        "VALUES ('a', 'sent', 1, 'x'), ('b', 'seen', NULL, NULL)",
        f"INSERT INTO {LONG}_tags (parent_id, child_id) VALUES (1, 1)",
    )
    names = _check_names(url, LONG, f"{LONG}_tags")
    # Two indexes whose names differ only past the cut: PostgreSQL made one of them before.
    indexes = schema_of(url)[LONG]["indexes"]
    for col in ("reminder_sent_at", "reminder_seen_at"):
        assert len([i for i in indexes if i[1] == (col,)]) == 1, indexes

    # Each later change finds the fitted names: new choices replace the check, the unique
    # constraint goes, the table and its junction take their names along.
    p.models(_models(choices='["sent", "seen", "lost"]'))
    _migrate(p)
    three = '["sent", "seen", "lost"]'
    p.models(_models(code="", choices=three))
    _migrate(p)
    execute(url, f"INSERT INTO {LONG} (code, status) VALUES ('a', 'lost')")
    p.models(_models(table=RENAMED, code="", choices=three))
    _migrate(p)
    names = _check_names(url, RENAMED, f"{RENAMED}_tags")
    assert not [n for n in names if "attempts" in n], names
    assert rows(url, f"SELECT code, status, owner FROM {RENAMED} ORDER BY id") == [
        ("a", "sent", 1),
        ("b", "seen", None),
        ("a", "lost", None),
    ]

    # Down to nothing and up again: every name is found to drop, then made once more.
    execute(url, f"DELETE FROM {RENAMED} WHERE status = 'lost'")
    r = p.run("migrate", "app/zero", "--allow-destructive", "--allow-irreversible")
    assert r.code == 0, r
    r = p.run("migrate")
    assert r.code == 0, r
    assert p.run("checkschema").code == 0
    _check_names(url, RENAMED, f"{RENAMED}_tags")
    # Adopting the database reads the fitted names as umbral's own.
    r = p.run("inspectdb", "--output", "adopted")
    assert r.code == 0, r
    assert "index names kept" not in (p.root / "adopted" / "models.py").read_text()


@pytest.mark.postgres
def test_names_postgresql_cut_short_before_are_found_by_a_rename(
    tmp_path: object, postgres_url: str
) -> None:
    """A database migrated before names were fitted holds them as PostgreSQL cut them (the
    first 63 bytes); a later rename of the table finds and renames them."""
    from conftest import make_project

    p = make_project(tmp_path, postgres_url)  # type: ignore[arg-type]
    p.models(_models())
    _migrate(p)
    # As the database kept them before: every fitted name back to the full name, which
    # PostgreSQL cuts at 63 bytes.
    cut: set[str] = set()
    for table in (LONG, f"{LONG}_tags"):
        for name in _names(postgres_url, table):
            full = _full_name(name, table)
            if full is None or full.encode()[:63] in cut:
                continue  # one of two names cut alike: the database made only one before
            cut.add(full.encode()[:63])
            kind = "INDEX" if name.startswith(("idx_", "uniq_")) else "CONSTRAINT"
            if kind == "INDEX":
                execute(postgres_url, f'ALTER INDEX "{name}" RENAME TO "{full}"')
            else:
                execute(
                    postgres_url, f'ALTER TABLE "{table}" RENAME CONSTRAINT "{name}" TO "{full}"'
                )
    legacy = _names(postgres_url, LONG)
    assert any(len(n) == 63 for n in legacy), legacy

    p.models(_models(table=RENAMED))
    _migrate(p)

    names = _check_names(postgres_url, RENAMED, f"{RENAMED}_tags")
    # All but the one index whose cut name the other index's name cuts to as well: that name
    # may be either's, so it stays as it is (the index works under it).
    ambiguous = f"idx_{LONG}_reminder_sent_at".encode()[:63].decode()
    assert [n for n in names if "attempts" in n] == [ambiguous], names
    # New choices still replace the check under its new name.
    p.models(_models(table=RENAMED, choices='["sent", "seen", "lost"]'))
    _migrate(p)
    execute(postgres_url, f"INSERT INTO {RENAMED} (code, status) VALUES ('c', 'lost')")


def _full_name(fitted: str, table: str) -> str | None:
    """The generated name ``fitted`` stands for, when it was fitted (else None)."""
    candidates = [
        f"{prefix}_{table}_{col}"
        for prefix in ("idx", "uniq")
        for col in ("owner", "reminder_sent_at", "reminder_seen_at", "child_id", "code")
    ] + [
        f"{table}_{col}_{suffix}"
        for col in ("code", "status", "owner", "parent_id", "child_id")
        for suffix in ("key", "fkey", "check")
    ]
    for full in candidates:
        if full != fitted and fit_identifier(full, 63) == fitted:
            return full
    return None


PAIR = """
class Tag(Model):
    name = fields.Text()

class One(Model, table="{one}"):
    name = fields.Text()
    {m2m} = fields.ManyToMany(Tag)

class Two(Model, table="{two}"):
    name = fields.Text()
"""


@pytest.mark.postgres
def test_renames_around_primary_keys_postgresql_named_itself(
    tmp_path: object, postgres_url: str
) -> None:
    """PostgreSQL names a primary key after its table cut to fit ``_pkey`` (and numbers it
    when that name is taken): a rename finds it by what it is, and leaves it alone when the
    name it would take is the one it has or another relation's."""
    from conftest import make_project

    p = make_project(tmp_path, postgres_url)  # type: ignore[arg-type]
    base = "s" * 53
    # Names whose first 58 bytes are the same: a 58-byte table (its key takes all 63 bytes
    # with `_pkey`), its 63-byte junction (whose key PostgreSQL numbered: the name was taken)
    # and a 59-byte table.
    one, two, m2m = base + "_aaaa", base + "_bbbbb", "tags"
    p.models(PAIR.format(one=one, two=two, m2m=m2m))
    _migrate(p)
    execute(
        postgres_url,
        "INSERT INTO tag (name) VALUES ('t')",
        f"INSERT INTO \"{one}\" (name) VALUES ('1')",
        f"INSERT INTO \"{two}\" (name) VALUES ('2')",
        f'INSERT INTO "{one}_{m2m}" (parent_id, child_id) VALUES (1, 1)',
    )
    steps = [
        (one, two + "s", m2m),  # the key's name stays the same cut name
        (one, one + "q", m2m),  # the name the key would take is the other table's key's
        (one, one + "q", "lbl"),  # the junction's key has a numbered name
        (one + "x", one + "q", "lbl"),  # a parent and its junction, both cut the same
        (one + "x", base + "_b2", "lbl"),
    ]
    for names in steps:
        p.models(PAIR.format(one=names[0], two=names[1], m2m=names[2]))
        _migrate(p)
    one, two, m2m = steps[-1]
    assert rows(postgres_url, f'SELECT name FROM "{two}"') == [("2",)]
    assert rows(postgres_url, f'SELECT parent_id, child_id FROM "{one}_{m2m}"') == [(1, 1)]
    # Back to nothing and forward again, replaying every rename.
    r = p.run("migrate", "app/zero", "--allow-destructive", "--allow-irreversible")
    assert r.code == 0, r
    r = p.run("migrate", "--replay")
    assert r.code == 0, r
    assert p.run("checkschema").code == 0


@pytest.mark.mysql
def test_a_name_mysql_refuses_is_refused_before_anything_runs(
    tmp_path: object, mysql_url: str
) -> None:
    """MySQL and MariaDB refuse a table, column or view name over 64 characters, and their
    DDL commits statement by statement: such a migration used to fail part way (a junction
    table after its parent), leaving it partly applied. Every path refuses it up front now,
    naming the operation and where the models give the name."""
    from conftest import make_project

    p = make_project(tmp_path, mysql_url)  # type: ignore[arg-type]
    team = "t" * 57  # its junction table `<team>_members` is 65 characters
    p.models(
        "class Person(Model):\n    name = fields.Text()\n\n"
        f'class Team(Model, table="{team}"):\n'
        "    name = fields.Text()\n    members = fields.ManyToMany(Person)\n"
    )
    assert p.run("makemigrations").code == 0
    refusal = (
        "error: migration app/0001_initial: operation #3 (CreateM2MTable) names the junction "
        f"table `{team}_members`, 65 characters long, and the mysql backend's database "
        "refuses names over 64: shorten the model's table= or the ManyToMany field's name and "
        "make this migration again; nothing was run"
    )
    tables = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
    for args in (["migrate"], ["migrate", "--replay"], ["sqlmigrate", "app/0001_initial"]):
        r = p.run(*args)
        assert (r.code, r.err_lines) == (1, [refusal]), r
        assert rows(mysql_url, tables) == []
    # checkmigrations says the deploy would stop there (it passed such a migration before).
    r = p.run("checkmigrations")
    assert r.code == 1, r
    assert (
        f"  [NAME TOO LONG] app/0001_initial: names the junction table `{team}_members`, "
        "65 characters long, and the mysql backend's database refuses names over 64: migrate "
        "will refuse this migration. Shorten the model's table= or the ManyToMany field's "
        "name and make the migration again"
    ) in r.out_lines, r
    # A column of a later migration: the plan is refused before its first migration runs.
    (p.root / "migrations" / "app" / "0001_initial.json").unlink()
    person = "class Person(Model):\n    name = fields.Text()\n"
    p.models(person)
    assert p.run("makemigrations").code == 0
    column = "c" * 65
    p.models(person + f"    {column} = fields.Text(nullable=True)\n")
    assert p.run("makemigrations").code == 0
    second = p.migration_files()[1].removesuffix(".json")
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.err_lines == [
        f"error: migration app/{second}: operation #1 (AddColumn) names the column "
        f"`person.{column}`, 65 characters long, and the mysql backend's database refuses "
        "names over 64: shorten the field's name or its column= and make this migration "
        "again; nothing was run"
    ], r
    assert rows(mysql_url, tables) == []
    # Given a shorter name, the same project migrates.
    (p.root / "migrations" / "app" / f"{second}.json").unlink()
    p.models(person + f'    {column} = fields.Text(nullable=True, column="short")\n')
    assert p.run("makemigrations").code == 0
    r = p.run("migrate")
    assert r.code == 0, r
    assert schema_of(mysql_url)["person"]["columns"][-1][0] == "short"


@pytest.mark.mysql
def test_compat_views_and_reverses_mysql_refuses(tmp_path: object, mysql_url: str) -> None:
    """A --compat rename's view (the table's name and `_compat`) is refused like a table, and
    a migration whose reverse would give a name too long cannot be un-applied."""
    from conftest import make_project

    p = make_project(tmp_path, mysql_url)  # type: ignore[arg-type]
    long, team = "q" * 65, "t" * 60
    p.models(f'class Person(Model, table="{long}"):\n    name = fields.Text()\n')
    assert p.run("makemigrations").code == 0
    teams = f'\nclass Team(Model, table="{team}"):\n    {{}} = fields.Text()\n'
    p.models(
        'class Person(Model, table="person"):\n    name = fields.Text()\n' + teams.format("name")
    )
    assert p.run("makemigrations").code == 0
    # The fast path builds the head, where the long name is gone.
    r = p.run("migrate")
    assert r.code == 0, r
    first, second = (f.removesuffix(".json") for f in p.migration_files()[:2])
    r = p.run("migrate", f"app/{first}", "--allow-destructive")
    assert (r.code, r.err_lines) == (
        1,
        [
            f"error: migration app/{second} cannot be un-applied on this database: its reverse "
            f"names the table `{long}`, 65 characters long, and the mysql backend's database "
            "refuses it; nothing was run"
        ],
    ), r
    p.models(
        'class Person(Model, table="person"):\n    name = fields.Text()\n' + teams.format("title")
    )
    assert p.run("makemigrations", "--compat").code == 0
    third = p.migration_files()[2].removesuffix(".json")
    r = p.run("migrate")
    assert (r.code, r.err_lines) == (
        1,
        [
            f"error: migration app/{third}: operation #1 (RenameColumn) names the compatibility "
            f"view `{team}_compat`, 67 characters long, and the mysql backend's database refuses "
            "names over 64: shorten the model's table=, or make the rename without --compat and "
            "make this migration again; nothing was run"
        ],
    ), r
    assert [x for (x,) in rows(mysql_url, "SELECT name FROM umbral_migrations")] == [
        first,
        second,
    ]
