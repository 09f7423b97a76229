"""``umbral checkschema``: the live schema against what the applied migrations promise.

Hand changes (a column added, an index dropped, a nullability flipped, a table or a junction
dropped, a second foreign key) are found, each on one line; ``--sql`` prints the repair, which
applied by hand leaves no drift and every row in place. The check itself only reads.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import (
    Project,
    _libpq,
    backend_name,
    execute,
    is_mysql,
    rows,
    schema_of,
    sqlite_path,
)

MODELS = """
class Author(Model):
    name = fields.Text(max_length=100)
    score = fields.Integer(default=3, index=True)

class Tag(Model):
    label = fields.Text()

class Post(Model):
    title = fields.Text()
    author = fields.ForeignKey("Author", on_delete="cascade")
    tags = fields.ManyToMany("Tag")
"""
DATA = [
    "INSERT INTO author (name, score) VALUES ('ann', 1), ('bob', 2)",
    "INSERT INTO tag (label) VALUES ('x')",
    "INSERT INTO post (title, author) VALUES ('one', 1), ('two', 2)",
    "INSERT INTO post_tags (parent_id, child_id) VALUES (1, 1)",
]


def _migrated(p: Project) -> str:
    p.models(MODELS)
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    execute(p.database, *DATA)
    return p.migration_files()[0].removesuffix(".json")


def _apply_script(url: str, script: str) -> None:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(sqlite_path(url))
        try:
            conn.executescript(script)
        finally:
            conn.close()
        return
    if is_mysql(url):
        from umbral_mysql.script import split_mysql_sql

        execute(url, *split_mysql_sql(script))
        return
    import psycopg

    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute(script)


def _snapshot(url: str) -> tuple:
    return schema_of(url), rows(url, "SELECT id, title, author FROM post ORDER BY id")


def test_no_drift_after_migrate(any_project: Project) -> None:
    p = any_project
    first = _migrated(p)
    r = p.run("checkschema")
    assert r.code == 0, r
    assert r.out_lines == ["No schema drift: the database matches the applied migrations of 1 "
                           "plugin(s)"]  # fmt: skip
    data = json.loads(p.run("checkschema", "--json").stdout)
    assert data == {"drift": False, "partly_applied": [],
                    "plugins": [{"plugin": "app", "migration": f"app/{first}"}],
                    "differences": []}  # fmt: skip
    assert p.run("checkschema", "--sql").out_lines == ["-- no schema drift: nothing to repair"]


@pytest.mark.parametrize("key", ["SmallInt", "Integer", "BigInt"])
def test_an_integer_primary_key_of_any_width_is_no_drift(any_project: Project, key: str) -> None:
    """SQLite stores every integer primary key as the 64-bit rowid (read back as BigInt): an
    Integer key, and a foreign key to it, were reported as drift on a database just migrated."""
    p = any_project
    p.models(
        f"class Post(Model):\n    id = fields.{key}(primary_key=True)\n    title = fields.Text()\n"
        "\nclass Note(Model):\n    post = fields.ForeignKey(Post)\n"
    )
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    r = p.run("checkschema")
    assert (r.code, r.out_lines[0][:15]) == (0, "No schema drift"), r


def test_a_hand_added_column_and_a_dropped_index_are_found_and_repaired(
    any_project: Project,
) -> None:
    p, url = any_project, any_project.database
    if is_mysql(url):
        pytest.skip("MySQL refuses to drop the index a foreign key uses")
    first = _migrated(p)
    execute(
        url,
        "ALTER TABLE post ADD COLUMN extra TEXT",
        "DROP INDEX idx_author_score",
        "DROP INDEX idx_post_author",  # a foreign key's index
    )
    before = _snapshot(url)

    r = p.run("checkschema")
    assert r.code == 1, r
    assert r.out_lines == [
        f"# plugin: app (applied up to app/{first})",
        f"- index on author (score) (in app/{first}, not in the database)",
        f"+ column post.extra (in the database, not in app/{first})",
        f"- index on post (author) (in app/{first}, not in the database)",
        "",
        "Schema drift: 3 difference(s). `umbral checkschema --sql` prints the SQL that "
        "repairs them.",
    ]
    assert _snapshot(url) == before  # it only reads

    data = json.loads(p.run("checkschema", "--json").stdout)
    assert data["drift"] is True
    assert [(d["sign"], d["destructive"]) for d in data["differences"]] == [
        ("-", False),
        ("+", True),
        ("-", False),
    ]

    sql = p.run("checkschema", "--sql")
    assert sql.code == 1, sql
    assert "-- DESTRUCTIVE: Drop column extra from post" in sql.out_lines
    assert "-- Add index on author (score)" in sql.out_lines
    assert _snapshot(url) == before  # printed, never run
    _apply_script(url, sql.stdout)
    r = p.run("checkschema")
    assert r.code == 0, r
    assert rows(url, "SELECT id, title, author FROM post ORDER BY id") == before[1]
    assert p.run("makemigrations", "--check").code == 0


NULLABLE_TITLE = {
    "postgres": ["ALTER TABLE post ALTER COLUMN title DROP NOT NULL"],
    "mysql": ["ALTER TABLE post MODIFY COLUMN title LONGTEXT NULL"],
    # SQLite cannot alter a column: rebuild the table by hand, as a user would.
    "sqlite": [
        "PRAGMA foreign_keys = OFF",
        "CREATE TABLE post_new (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT, "
        "author INTEGER NOT NULL REFERENCES author (id) ON DELETE CASCADE)",
        "INSERT INTO post_new SELECT id, title, author FROM post",
        "DROP TABLE post",
        "ALTER TABLE post_new RENAME TO post",
        "CREATE INDEX idx_post_author ON post (author)",
    ],
}


def test_a_nullability_flip_is_found_and_repaired(any_project: Project) -> None:
    p, url = any_project, any_project.database
    first = _migrated(p)
    backend = backend_name(url)
    if backend == "sqlite":
        _apply_script(url, ";\n".join(NULLABLE_TITLE["sqlite"]) + ";")
    else:
        execute(url, *NULLABLE_TITLE[backend])
    r = p.run("checkschema")
    assert r.code == 1, r
    assert f"~ post.title: NOT NULL in app/{first}, nullable in the database" in r.out_lines
    assert len([line for line in r.out_lines if line[:2] in ("+ ", "- ", "~ ")]) == 1, r
    data = rows(url, "SELECT id, title, author FROM post ORDER BY id")
    _apply_script(url, p.run("checkschema", "--sql").stdout)
    assert p.run("checkschema").code == 0
    assert rows(url, "SELECT id, title, author FROM post ORDER BY id") == data
    with pytest.raises(Exception, match=r"(?i)null"):
        execute(url, "INSERT INTO post (title, author) VALUES (NULL, 1)")


def test_a_dropped_table_and_junction_are_recreated(any_project: Project) -> None:
    p, url = any_project, any_project.database
    first = _migrated(p)
    execute(url, "DROP TABLE post_tags", "DROP TABLE tag")
    r = p.run("checkschema")
    assert r.code == 1, r
    assert r.out_lines[1:3] == [
        f"- table tag (in app/{first}, not in the database)",
        f"- junction table post_tags (Post.tags, in app/{first}, not in the database)",
    ]
    _apply_script(url, p.run("checkschema", "--sql").stdout)
    assert p.run("checkschema").code == 0
    execute(url, "INSERT INTO tag (label) VALUES ('y')", "INSERT INTO post_tags VALUES (1, 1)")


@pytest.mark.postgres
def test_a_second_foreign_key_and_changed_actions_on_postgres(postgres_url: str, tmp_path) -> None:
    from conftest import make_project

    p = make_project(tmp_path, postgres_url)
    first = _migrated(p)
    execute(
        postgres_url,
        "ALTER TABLE post DROP CONSTRAINT post_author_fkey",
        "ALTER TABLE post ADD CONSTRAINT fk_legacy FOREIGN KEY (author) REFERENCES author (id)",
        "ALTER TABLE post ADD CONSTRAINT fk_other FOREIGN KEY (author) REFERENCES author (id) "
        "ON DELETE CASCADE",
        "ALTER TABLE author ALTER COLUMN name TYPE VARCHAR(200)",
    )
    r = p.run("checkschema")
    assert r.code == 1, r
    assert r.out_lines[1:3] == [
        f"~ author.name: Text(100) in app/{first}, Text(200) in the database",
        f"+ foreign key fk_legacy on post (author) referencing author (in the database, not in "
        f"app/{first}): a second foreign key on the column",
    ]
    sql = p.run("checkschema", "--sql")
    # Narrowing a length can fail or cut values: marked, as a dropped column is.
    assert "-- DESTRUCTIVE: Alter column name of author" in sql.out_lines
    _apply_script(postgres_url, sql.stdout)
    assert p.run("checkschema").code == 0
    execute(postgres_url, "DELETE FROM author WHERE id = 1")  # the cascade the model declares
    assert rows(postgres_url, "SELECT title FROM post") == [("two",)]


def test_all_lists_what_no_plugin_owns_without_failing(any_project: Project) -> None:
    p, url = any_project, any_project.database
    _migrated(p)
    execute(url, "CREATE TABLE legacy_log (id INTEGER PRIMARY KEY)")
    execute(url, "CREATE VIEW cheap AS SELECT id FROM author")
    assert p.run("checkschema").out_lines[0].startswith("No schema drift")
    r = p.run("checkschema", "--all")
    assert r.code == 0, r
    assert r.out_lines[:3] == ["# owned by no plugin (not compared)", "  view cheap",
                               "  table legacy_log"]  # fmt: skip
    assert json.loads(p.run("checkschema", "--all", "--json").stdout)["outside"] == [
        "view cheap",
        "table legacy_log",
    ]


def test_nothing_applied(project: Project) -> None:
    p = project
    p.models(MODELS)
    assert p.run("makemigrations").code == 0
    execute(p.database, "CREATE TABLE unrelated (id INTEGER PRIMARY KEY)")
    r = p.run("checkschema")
    assert (r.code, r.out_lines) == (0, ["No applied migrations: nothing to compare"]), r


FK_DROPPED = {
    "mysql": [
        "ALTER TABLE post DROP FOREIGN KEY post_author_fk",
        "DROP INDEX idx_post_author ON post",
    ],
    "postgres": [
        "ALTER TABLE post DROP CONSTRAINT post_author_fkey",
        "DROP INDEX idx_post_author",
    ],
    "sqlite": [
        "PRAGMA foreign_keys = OFF",
        "CREATE TABLE post_new (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, "
        "author BIGINT NOT NULL)",
        "INSERT INTO post_new SELECT id, title, author FROM post",
        "DROP TABLE post",
        "ALTER TABLE post_new RENAME TO post",
    ],
}


def test_a_dropped_foreign_key_and_its_index_are_restored_once(any_project: Project) -> None:
    """The repair alter that makes the column a foreign key again also makes its index (as a
    model change would): the printed SQL does not create that index a second time."""
    p, url = any_project, any_project.database
    first = _migrated(p)
    backend = backend_name(url)
    _apply_script(url, ";\n".join(FK_DROPPED[backend]) + ";")
    r = p.run("checkschema")
    assert r.code == 1, r
    assert [line for line in r.out_lines if line[:2] in ("+ ", "- ", "~ ")] == [
        f"~ post.author: references author(id) ON DELETE CASCADE in app/{first}, "
        "no foreign key in the database",
        f"- index on post (author) (in app/{first}, not in the database)",
    ]
    data = rows(url, "SELECT id, title, author FROM post ORDER BY id")
    sql = p.run("checkschema", "--sql").stdout
    assert sql.count("CREATE INDEX") == 1, sql
    _apply_script(url, sql)
    assert p.run("checkschema").code == 0
    assert rows(url, "SELECT id, title, author FROM post ORDER BY id") == data
    if backend == "sqlite":  # sqlite3 connections enforce no foreign key unless asked
        assert [(r[2], r[3], r[6]) for r in rows(url, "PRAGMA foreign_key_list(post)")] == [
            ("author", "author", "CASCADE")
        ]
    else:
        execute(url, "DELETE FROM author WHERE id = 1")  # the cascade is back
        assert rows(url, "SELECT title FROM post") == [("two",)]


def test_a_missing_sqlite_file_is_read_as_empty_and_not_created(project: Project) -> None:
    p = project
    p.models(MODELS)
    assert p.run("makemigrations").code == 0
    r = p.run("checkschema")
    assert (r.code, r.out_lines) == (0, ["No applied migrations: nothing to compare"]), r
    assert r.err_lines[0].startswith(f"note: database {sqlite_path(p.database)} does not exist")
    r = p.run("graph")
    assert r.code == 0 and "[ ]" in r.stdout, r
    assert not __import__("pathlib").Path(sqlite_path(p.database)).exists()


@pytest.mark.parametrize("on_delete", ["restrict", "no_action", "set_null", "cascade"])
def test_every_foreign_key_action_reads_back_as_promised(
    any_project: Project, on_delete: str
) -> None:
    """Also where the database cannot tell RESTRICT from NO ACTION (MySQL, MariaDB): an
    action changed by AlterColumn as well as one created with the table."""
    p = any_project
    nullable = ", nullable=True" if on_delete == "set_null" else ""
    model = "class Owner(Model):\n    name = fields.Text(max_length=10)\n\n"
    p.models(model + f"class Item(Model):\n    owner = fields.ForeignKey(Owner{nullable})\n")
    assert p.run("makemigrations").code == 0
    p.models(
        model + f'class Item(Model):\n    owner = fields.ForeignKey(Owner, on_delete="{on_delete}"'
        f"{nullable})\n"
    )
    assert p.run("makemigrations").code == 0
    for target in [f"app/{name[:-5]}" for name in p.migration_files()]:
        r = p.run("migrate", target)
        assert r.code == 0, r
        r = p.run("checkschema")
        assert (r.code, r.out_lines[0][:16]) == (0, "No schema drift:"), (target, r)


def test_indexes_made_by_hand_under_other_names_are_repaired(any_project: Project) -> None:
    """An index only the database has, under a name of its own, was repaired by
    ``DROP INDEX <name>``: MySQL refuses that without ``ON <table>``, and PostgreSQL refuses it
    for a unique constraint's index. The repair drops it as a migration would, by its columns."""
    p, url = any_project, any_project.database
    first = _migrated(p)
    unique = (
        "ALTER TABLE tag ADD CONSTRAINT tag_label_key UNIQUE (label, id)"
        if backend_name(url) == "postgres"
        else "CREATE UNIQUE INDEX tag_label_key ON tag (label, id)"
    )
    if is_mysql(url):
        unique = unique.replace("(label, id)", "(label(100), id)")
    execute(url, "CREATE INDEX by_hand ON author (name)", unique)
    r = p.run("checkschema")
    assert r.code == 1, r
    assert [line for line in r.out_lines if line[:2] == "+ "] == [
        f"+ index by_hand on author (name) (in the database, not in app/{first})",
        f"+ unique index tag_label_key on tag (label, id) (in the database, not in app/{first})",
    ], r
    before = _snapshot(url)
    _apply_script(url, p.run("checkschema", "--sql").stdout)
    r = p.run("checkschema")
    assert r.code == 0, r
    assert _snapshot(url)[1] == before[1]


@pytest.mark.mysql
def test_a_column_of_a_type_no_field_maps_is_compared_by_name(mysql_url: str, tmp_path) -> None:
    """Models written by hand for an existing table may call an ``ENUM`` column text: the
    check stopped at it with inspectdb's error ("cannot map column"). It says the type
    differs, and compares the rest; a ``SET`` column the models lack is a column too many."""
    from conftest import make_project

    p = make_project(tmp_path, mysql_url)
    execute(
        mysql_url,
        "CREATE TABLE item (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
        "status ENUM('new', 'done') NOT NULL, note LONGTEXT NOT NULL, tags SET('a', 'b'), "
        "code VARCHAR(10) NOT NULL, INDEX idx_item_code_status (code, status))",
    )
    # An index of several columns over the ENUM stopped the check ("unknown column").
    p.models(
        'class Item(Model, table="item", indexes=[("code", "status")]):\n'
        '    status = fields.Text(choices=["new", "done"])\n    note = fields.Text()\n'
        "    code = fields.Text(max_length=10)\n"
    )
    assert p.run("makemigrations").code == 0
    first = p.migration_files()[0].removesuffix(".json")
    assert p.run("migrate", "--fake", f"app/{first}").code == 0
    r = p.run("checkschema")
    assert r.code == 1, r
    assert [line for line in r.out_lines if line[:2] in ("+ ", "- ", "~ ")] == [
        f"~ item.status: type Text in app/{first}, enum('new','done') in the database, which "
        "no umbral field type is; change the column's type in the database to repair it",
        f"+ column item.tags (set('a','b'), in the database, not in app/{first})",
    ], r


def test_a_junctions_target_renamed_by_hand_is_drift_not_a_crash(any_project: Project) -> None:
    """The junction then read as a table of two columns with a key of both, and the check
    stopped with inspectdb's error (a composite primary key) instead of a report: the state
    a half-applied rename of the target leaves too."""
    p, url = any_project, any_project.database
    first = _migrated(p)
    rename = "RENAME TABLE tag TO tag_x" if is_mysql(url) else "ALTER TABLE tag RENAME TO tag_x"
    execute(url, rename)
    r = p.run("checkschema")
    assert r.code == 1, r
    assert f"- table tag (in app/{first}, not in the database)" in r.out_lines, r
    assert not r.stderr, r


def test_actions_no_model_can_declare_are_drift(postgres_url: str, tmp_path) -> None:
    """ON UPDATE SET NULL, SET DEFAULT, or SET NULL on a NOT NULL column were read as no
    action (as inspectdb adopts them): a key changed by hand to one of them was no drift, and
    the last was reported with the database's side wrong."""
    from conftest import make_project

    p = make_project(tmp_path, postgres_url)
    first = _migrated(p)
    execute(
        postgres_url,
        "ALTER TABLE post DROP CONSTRAINT post_author_fkey",
        "ALTER TABLE post ADD CONSTRAINT post_author_fkey FOREIGN KEY (author) REFERENCES "
        "author (id) ON DELETE CASCADE ON UPDATE SET DEFAULT",
    )
    r = p.run("checkschema")
    assert r.code == 1, r
    assert r.out_lines[1] == (
        f"~ post.author: references author(id) ON DELETE CASCADE in app/{first}, references "
        "author(id) ON DELETE CASCADE ON UPDATE SET DEFAULT in the database"
    ), r
    _apply_script(postgres_url, p.run("checkschema", "--sql").stdout)
    assert p.run("checkschema").code == 0


@pytest.mark.mysql
def test_a_unique_index_made_by_hand_is_repaired_by_its_name(mysql_url: str, tmp_path) -> None:
    """A column's unique index made by hand under its own name: the repair dropped umbral's
    name (`DROP INDEX IF EXISTS uniq_…`), which did nothing, and the drift stayed."""
    from conftest import make_project

    p = make_project(tmp_path, mysql_url)
    first = _migrated(p)
    execute(mysql_url, "CREATE UNIQUE INDEX my_uq ON tag (label(50))")
    r = p.run("checkschema")
    assert r.code == 1 and r.out_lines[1].startswith(f"~ tag.label: not unique in app/{first}")
    _apply_script(mysql_url, p.run("checkschema", "--sql").stdout)
    r = p.run("checkschema")
    assert r.code == 0, r


def test_a_failed_atomic_migration_leaves_nothing_partly_applied(any_project: Project) -> None:
    """Rolled back whole (SQLite, PostgreSQL), a failed migration leaves the database at the
    last applied one, which checkschema compares as usual; where a migration runs statement by
    statement (MySQL / MariaDB), checkschema names it instead (tests/backends/test_resume.py)."""
    p = any_project
    if is_mysql(p.database):
        pytest.skip("MySQL / MariaDB run a migration with DDL statement by statement")
    name = _migrated(p)
    p.models(MODELS + "    extra = fields.Integer(nullable=True)\n")
    assert p.run("makemigrations").code == 0
    second = p.root / "migrations" / "app" / p.migration_files()[1]
    data = json.loads(second.read_text())
    failing = "INSERT INTO post (title) SELECT 'x' FROM fix_me"
    data["operations"].append({"kind": "RunSql", "sql": failing})
    second.write_text(json.dumps(data))
    assert p.run("migrate").code == 1
    r = p.run("checkschema")
    assert (r.code, r.out_lines) == (
        0, ["No schema drift: the database matches the applied migrations of 1 plugin(s)"]
    ), r  # fmt: skip
    found = json.loads(p.run("checkschema", "--json").stdout)
    assert (found["drift"], found["partly_applied"]) == (False, []), found
    assert found["plugins"] == [{"plugin": "app", "migration": f"app/{name}"}]
