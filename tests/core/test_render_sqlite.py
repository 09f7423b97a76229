"""SQLite rendering (SPEC §6): operation -> exact statements, then the same on a real file.

The first half needs no database: each case renders one operation against a known table state.
The second half runs every case's statements through the executor on a fresh SQLite file and
reads the schema back with SQLAlchemy's inspector.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from conftest import execute, rows, schema_of
from umbral import executor, recorder
from umbral import operations as ops
from umbral.backend import RenderContext
from umbral.database import driver_cursor
from umbral.migration import Migration
from umbral.plugins import new_manager
from umbral.schema import EMPTY, Column, ModelState
from umbral.steps import RunTimeStep, UniqueCheck, plain_sql
from umbral_sqlite import plugin as sqlite_plugin
from umbral_sqlite.backend import SQLiteBackend
from umbral_sqlite.steps import (
    Adapted,
    CarryStored,
    CopyAll,
    DropInPlace,
    EditDefinition,
    KeepTriggersAndIndexes,
    Live,
    Rebuild,
    Way,
)

ID = Column("id", "BigInt", primary_key=True)
AUTHOR = ModelState(
    "author",
    "author",
    (ID, Column("name", "Text", max_length=100), Column("email", "Text", unique=True)),
)
POST = ModelState(
    "post",
    "post",
    (
        ID,
        Column("title", "Text", default="x"),
        Column("author", "ForeignKey", fk_target="author", fk_column="id", on_delete="cascade"),
        Column("status", "Text", index=True, nullable=True),
    ),
    unique_together=(("author", "title"),),
)
STATE = {"author": AUTHOR, "post": POST}

CREATE_AUTHOR = [
    'CREATE TABLE "author" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, '
    '"name" VARCHAR(100) NOT NULL, "email" TEXT NOT NULL)',
    'CREATE UNIQUE INDEX "uniq_author_email" ON "author" ("email")',
]
CREATE_POST = [
    'CREATE TABLE "post" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, '
    "\"title\" TEXT NOT NULL DEFAULT 'x', "
    '"author" BIGINT NOT NULL REFERENCES "author" ("id") ON DELETE CASCADE, "status" TEXT)',
    'CREATE UNIQUE INDEX "uniq_post_author_title" ON "post" ("author", "title")',
    'CREATE INDEX "idx_post_author" ON "post" ("author")',
    'CREATE INDEX "idx_post_status" ON "post" ("status")',
]
POST_INDEXES = CREATE_POST[1:]


def rebuild(table: str, create: str, targets: str, exprs: str, indexes: list[str]) -> list[str]:
    """The table-recreation dance of SPEC §6, statement by statement (the tables here have an
    AUTOINCREMENT id, whose counter the new table takes over)."""
    new = f"_umbral_new_{table}"
    return [
        create,
        f'INSERT INTO "{new}" ({targets}) SELECT {exprs} FROM "{table}"',
        "UPDATE sqlite_sequence SET seq = (SELECT max(seq) FROM sqlite_sequence "
        f"WHERE name IN ('{table}', '{new}')) WHERE name = '{new}'",
        f"INSERT INTO sqlite_sequence (name, seq) SELECT '{new}', seq FROM sqlite_sequence "
        f"WHERE name = '{table}' AND NOT EXISTS "
        f"(SELECT 1 FROM sqlite_sequence WHERE name = '{new}')",
        f'DROP TABLE "{table}"',
        "PRAGMA legacy_alter_table = ON",
        f'ALTER TABLE "{new}" RENAME TO "{table}"',
        "PRAGMA legacy_alter_table = OFF",
        *indexes,
    ]


Schema = dict[str, Any]


def columns(schema: Schema, table: str) -> list[str]:
    return [c[0] for c in schema[table]["columns"]]


def index_names(schema: Schema, table: str) -> set[str]:
    return {i[0] for i in schema[table]["indexes"]}


# (id, operation, expected statements, check of the schema after running them)
CASES: list[tuple[str, ops.Operation, list[str], Callable[[Schema], Any]]] = [
    (
        "create-table",
        ops.CreateTable(table="tag", columns=(ID, Column("label", "Text", unique=True))),
        [
            'CREATE TABLE "tag" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, "label" TEXT NOT NULL)',
            'CREATE UNIQUE INDEX "uniq_tag_label" ON "tag" ("label")',
        ],
        lambda s: s["tag"]["indexes"] == [("uniq_tag_label", ("label",), True)],
    ),
    (
        "create-table-every-type",
        ops.CreateTable(
            table="kinds",
            columns=tuple(
                Column(t.lower(), t, nullable=True)
                for t in (
                    "SmallInt",
                    "Integer",
                    "Real",
                    "Double",
                    "Boolean",
                    "Date",
                    "Time",
                    "Timestamp",
                    "Timestamptz",
                    "Uuid",
                    "Json",
                    "Bytes",
                    "Decimal",
                )
            ),
        ),
        [
            'CREATE TABLE "kinds" ("smallint" SMALLINT, "integer" INTEGER, "real" REAL, '
            '"double" DOUBLE, "boolean" BOOLEAN, "date" DATE, "time" TIME, '
            '"timestamp" TIMESTAMP, "timestamptz" TIMESTAMPTZ, "uuid" UUID, "json" JSON, '
            '"bytes" BLOB, "decimal" DECIMAL)'
        ],
        lambda s: len(s["kinds"]["columns"]) == 13,
    ),
    (
        "create-table-text-pk-defaults",
        ops.CreateTable(
            table="country",
            columns=(
                Column("code", "Text", primary_key=True),
                Column("flag", "Boolean", default=True),
                Column("seen", "Timestamptz", auto_now_add=True),
            ),
        ),
        [
            'CREATE TABLE "country" ("code" TEXT NOT NULL PRIMARY KEY, '
            '"flag" BOOLEAN NOT NULL DEFAULT 1, '
            '"seen" TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP)'
        ],
        lambda s: columns(s, "country") == ["code", "flag", "seen"],
    ),
    ("drop-table", ops.DropTable(table="post"), ['DROP TABLE "post"'], lambda s: "post" not in s),
    (
        "add-column",
        ops.AddColumn(table="post", column=Column("summary", "Text", nullable=True)),
        ['ALTER TABLE "post" ADD COLUMN "summary" TEXT'],
        lambda s: columns(s, "post")[-1] == "summary",
    ),
    (
        "add-unique-column",
        ops.AddColumn(table="post", column=Column("slug", "Text", nullable=True, unique=True)),
        [
            'ALTER TABLE "post" ADD COLUMN "slug" TEXT',
            'CREATE UNIQUE INDEX "uniq_post_slug" ON "post" ("slug")',
        ],
        lambda s: "uniq_post_slug" in index_names(s, "post"),
    ),
    (
        "add-fk-column",
        ops.AddColumn(
            table="post",
            column=Column(
                "editor",
                "ForeignKey",
                nullable=True,
                fk_target="author",
                fk_column="id",
                on_delete="set_null",
            ),
        ),
        [
            'ALTER TABLE "post" ADD COLUMN "editor" BIGINT REFERENCES "author" ("id") '
            "ON DELETE SET NULL",
            'CREATE INDEX "idx_post_editor" ON "post" ("editor")',
        ],
        lambda s: (("editor",), "author") in s["post"]["fks"],
    ),
    (
        "add-column-non-constant-default-rebuilds",
        ops.AddColumn(table="post", column=Column("created", "Timestamp", auto_now_add=True)),
        rebuild(
            "post",
            'CREATE TABLE "_umbral_new_post" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, '
            "\"title\" TEXT NOT NULL DEFAULT 'x', "
            '"author" BIGINT NOT NULL REFERENCES "author" ("id") ON DELETE CASCADE, '
            '"status" TEXT, "created" TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)',
            '"id", "title", "author", "status"',
            '"id", COALESCE("title", \'x\'), "author", "status"',
            POST_INDEXES,
        ),
        lambda s: (
            columns(s, "post") == ["id", "title", "author", "status", "created"]
            and index_names(s, "post")
            == {"uniq_post_author_title", "idx_post_author", "idx_post_status"}
        ),
    ),
    (
        "drop-indexed-column",
        ops.DropColumn(table="post", column="status"),
        ['DROP INDEX IF EXISTS "idx_post_status"', 'ALTER TABLE "post" DROP COLUMN "status"'],
        lambda s: "status" not in columns(s, "post"),
    ),
    (
        "drop-fk-column-rebuilds",
        ops.DropColumn(table="post", column="author"),
        rebuild(
            "post",
            'CREATE TABLE "_umbral_new_post" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, '
            '"title" TEXT NOT NULL DEFAULT \'x\', "status" TEXT)',
            '"id", "title", "status"',
            '"id", COALESCE("title", \'x\'), "status"',
            ['CREATE INDEX "idx_post_status" ON "post" ("status")'],
        ),
        lambda s: columns(s, "post") == ["id", "title", "status"] and s["post"]["fks"] == [],
    ),
    (
        "alter-column-rebuilds",
        ops.AlterColumn(
            table="author", column="name", from_=AUTHOR.fields[1], to=Column("name", "Json")
        ),
        rebuild(
            "author",
            'CREATE TABLE "_umbral_new_author" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, '
            '"name" JSON NOT NULL, "email" TEXT NOT NULL)',
            '"id", "name", "email"',
            '"id", "name", "email"',
            ['CREATE UNIQUE INDEX "uniq_author_email" ON "author" ("email")'],
        ),
        lambda s: (
            s["author"]["columns"][1] == ("name", "JSON", False)
            and "uniq_author_email" in index_names(s, "author")
        ),
    ),
    (
        "unbound-length-rebuilds",
        ops.AlterColumn(
            table="author", column="name", from_=AUTHOR.fields[1], to=Column("name", "Text")
        ),
        rebuild(
            "author",
            'CREATE TABLE "_umbral_new_author" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, '
            '"name" TEXT NOT NULL, "email" TEXT NOT NULL)',
            '"id", "name", "email"',
            '"id", "name", "email"',
            ['CREATE UNIQUE INDEX "uniq_author_email" ON "author" ("email")'],
        ),
        lambda s: (
            s["author"]["columns"][1] == ("name", "TEXT", False)
            and "uniq_author_email" in index_names(s, "author")
        ),
    ),
    (
        "choices-change-nothing-stored",  # SQLite keeps no CHECK for choices
        ops.AlterColumn(
            table="post",
            column="status",
            from_=POST.fields[3],
            to=replace(POST.fields[3], choices=("draft", "live")),
        ),
        [],
        lambda s: s["post"]["columns"][3] == ("status", "TEXT", True),
    ),
    (
        "drop-not-null-rebuilds",
        ops.AlterColumn(
            table="author",
            column="name",
            from_=AUTHOR.fields[1],
            to=Column("name", "Text", max_length=100, nullable=True),
        ),
        rebuild(
            "author",
            'CREATE TABLE "_umbral_new_author" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, '
            '"name" VARCHAR(100), "email" TEXT NOT NULL)',
            '"id", "name", "email"',
            '"id", "name", "email"',
            ['CREATE UNIQUE INDEX "uniq_author_email" ON "author" ("email")'],
        ),
        lambda s: (
            s["author"]["columns"][1] == ("name", "VARCHAR(100)", True)
            and "uniq_author_email" in index_names(s, "author")
        ),
    ),
    (
        "rename-table",
        ops.RenameTable(from_="post", to="article"),
        [
            'ALTER TABLE "post" RENAME TO "article"',
            # index names embed the table name: re-created under the new one
            'DROP INDEX IF EXISTS "uniq_post_author_title"',
            'DROP INDEX IF EXISTS "idx_post_author"',
            'DROP INDEX IF EXISTS "idx_post_status"',
            'CREATE UNIQUE INDEX "uniq_article_author_title" ON "article" ("author", "title")',
            'CREATE INDEX "idx_article_author" ON "article" ("author")',
            'CREATE INDEX "idx_article_status" ON "article" ("status")',
        ],
        lambda s: "article" in s and "post" not in s,
    ),
    (
        "rename-column",
        ops.RenameColumn(table="post", from_="title", to="headline"),
        [
            'ALTER TABLE "post" RENAME COLUMN "title" TO "headline"',
            'DROP INDEX IF EXISTS "uniq_post_author_title"',
            'CREATE UNIQUE INDEX "uniq_post_author_headline" ON "post" ("author", "headline")',
        ],
        lambda s: columns(s, "post") == ["id", "headline", "author", "status"],
    ),
    (
        "create-m2m",
        ops.CreateM2MTable(
            table="post_tags",
            parent_table="post",
            parent_column="id",
            child_table="author",
            child_column="id",
        ),
        [
            'CREATE TABLE "post_tags" ("parent_id" BIGINT NOT NULL REFERENCES "post" ("id") '
            'ON DELETE CASCADE, "child_id" BIGINT NOT NULL REFERENCES "author" ("id") '
            'ON DELETE CASCADE, PRIMARY KEY ("parent_id", "child_id"))',
            'CREATE INDEX "idx_post_tags_child_id" ON "post_tags" ("child_id")',
        ],
        lambda s: s["post_tags"]["fks"] == [(("child_id",), "author"), (("parent_id",), "post")],
    ),
    (
        "add-index",
        ops.AddIndex(table="post", columns=("title",)),
        ['CREATE INDEX "idx_post_title" ON "post" ("title")'],
        lambda s: "idx_post_title" in index_names(s, "post"),
    ),
    (
        "add-unique-index",
        ops.AddIndex(table="post", columns=("title", "status"), unique=True),
        [
            # The duplicate check, which at run time names the duplicates.
            'SELECT "title", "status", COUNT(*) FROM "post" WHERE "title" IS NOT NULL AND '
            '"status" IS NOT NULL GROUP BY "title", "status" HAVING COUNT(*) > 1 ORDER BY '
            'COUNT(*) DESC, "title", "status" LIMIT 6',
            'CREATE UNIQUE INDEX "uniq_post_title_status" ON "post" ("title", "status")',
        ],
        lambda s: ("uniq_post_title_status", ("title", "status"), True) in s["post"]["indexes"],
    ),
    (
        # A UNIQUE constraint of a table's definition (one umbral did not create) goes only
        # with a rebuild; the run time drops the index in place when there is none.
        "drop-unique-index-rebuilds",
        ops.DropIndex(table="post", columns=("author", "title"), unique=True),
        rebuild(
            "post",
            'CREATE TABLE "_umbral_new_post" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, '
            '"title" TEXT NOT NULL DEFAULT \'x\', "author" BIGINT NOT NULL REFERENCES "author" '
            '("id") ON DELETE CASCADE, "status" TEXT)',
            '"id", "title", "author", "status"',
            '"id", COALESCE("title", \'x\'), "author", "status"',
            [
                'CREATE INDEX "idx_post_author" ON "post" ("author")',
                'CREATE INDEX "idx_post_status" ON "post" ("status")',
            ],
        ),
        lambda s: "uniq_post_author_title" not in index_names(s, "post"),
    ),
    (
        "drop-index",
        ops.DropIndex(table="post", columns=("status",)),
        ['DROP INDEX IF EXISTS "idx_post_status"'],
        lambda s: "idx_post_status" not in index_names(s, "post"),
    ),
    (
        "comment-is-no-sql",
        ops.SetColumnComment(table="post", column="title", comment="x"),
        [],
        lambda s: "post" in s,
    ),
    (
        "create-view",
        ops.CreateView(name="recent", sql="SELECT id FROM post"),
        ['CREATE VIEW "recent" AS SELECT id FROM post'],
        lambda s: True,
    ),
    (
        "run-sql-split-on-top-level-semicolons",
        ops.RunSql(sql="UPDATE post SET title = 'a;b'; DELETE FROM post -- done;\n"),
        ["UPDATE post SET title = 'a;b'", "DELETE FROM post -- done;"],
        lambda s: True,
    ),
]


@pytest.mark.parametrize(
    ("op", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES]
)
def test_render(op: ops.Operation, expected: list[str]) -> None:
    assert plain_sql(SQLiteBackend().render(op, RenderContext(state=dict(STATE)))) == expected


def test_setup_tables_render_as_expected() -> None:
    b = SQLiteBackend()
    for model, expected in ((AUTHOR, CREATE_AUTHOR), (POST, CREATE_POST)):
        op = ops.CreateTable(
            table=model.table, columns=model.fields, unique_together=model.unique_together
        )
        assert plain_sql(b.render(op, RenderContext())) == expected


def test_rebuilds_ask_for_foreign_keys_off() -> None:
    b = SQLiteBackend()
    for case_id, op, _, _ in CASES:
        ctx = RenderContext(state=dict(STATE))
        b.render(op, ctx)
        assert ctx.needs_fk_off == case_id.endswith("-rebuilds"), case_id


def _ways(step: RunTimeStep) -> list[Way]:
    if isinstance(step, Rebuild):
        return step.ways()
    return list(step.ways) if isinstance(step, Adapted) else []


def test_run_time_steps_offer_their_ways_for_the_table_the_database_holds() -> None:
    b = SQLiteBackend()
    offered: dict[str, dict[str, Any]] = {}
    steps: dict[str, list[RunTimeStep]] = {}
    for case_id, op, _, _ in CASES:
        ctx = RenderContext(state=dict(STATE))
        steps[case_id] = [s for s in b.render(op, ctx) if isinstance(s, RunTimeStep)]
        offered[case_id] = {type(w).__name__: w for st in steps[case_id] for w in _ways(st)}
        checks = [st for st in steps[case_id] if isinstance(st, UniqueCheck)]
        offered[case_id].update({type(st).__name__: st for st in checks})
    assert {k: sorted(v) for k, v in offered.items() if v} == {
        # Every rebuild carries what a table umbral did not create holds beyond its models,
        # and keeps the old table's triggers and hand-made indexes when it swaps the new in.
        "add-column-non-constant-default-rebuilds": ["CarryStored", "KeepTriggersAndIndexes"],
        "drop-fk-column-rebuilds": ["CarryStored", "KeepTriggersAndIndexes"],
        # Same columns, same order, copied as they are: the copy may use SELECT *.
        "alter-column-rebuilds": ["CarryStored", "CopyAll", "KeepTriggersAndIndexes"],
        # And a change of the definition text alone (NOT NULL dropped, a declared type of the
        # same affinity) may skip the rebuild altogether.
        "drop-not-null-rebuilds": [
            "CarryStored", "CopyAll", "EditDefinition", "KeepTriggersAndIndexes"
        ],
        "unbound-length-rebuilds": [
            "CarryStored", "CopyAll", "EditDefinition", "KeepTriggersAndIndexes"
        ],
        # A column dropped in place also drops the indexes the models do not know.
        "drop-indexed-column": ["DropWithDependents"],
        # A table stops while another table's foreign key references it (SQLite's DROP TABLE
        # would delete or change the rows that do).
        "drop-table": ["StillReferenced"],
        # A rename re-creates the models' indexes under their new names, unless the table
        # already has one that indexes the same way (kept under a legacy name).
        "rename-column": ["SkipIfIndexed"],
        "rename-table": ["SkipIfIndexed"],
        # An index is dropped with every other that indexes the same way (adopted under a
        # legacy name); a unique one in place of the rebuild, unless the definition has it.
        "drop-index": ["DropIndexesLike"],
        "drop-unique-index-rebuilds": [
            "CarryStored", "DropIndexesLike", "KeepTriggersAndIndexes"
        ],
        # An index stops on a column the table lacks (SQLite would index the quoted name as
        # a text constant); a unique one looks for duplicates first, to name them.
        "add-index": ["NoSuchColumn"],
        "add-unique-index": ["NoSuchColumn", "UniqueCheck"],
    }  # fmt: skip  # (adding or dropping a column, or a COALESCE'd copy: neither of the last two)
    dropped = offered["drop-indexed-column"]["DropWithDependents"]
    assert dropped.statements == (dropped.sql,) == ('ALTER TABLE "post" DROP COLUMN "status"',)
    assert dropped.column == "status"
    for case_id, ways in offered.items():
        if "CarryStored" not in ways:
            continue
        stmts = next(c[2] for c in CASES if c[0] == case_id)
        [rebuild] = steps[case_id]  # the whole rebuild is one step
        assert isinstance(rebuild, Rebuild) and list(rebuild.statements) == stmts
        carried = ways["CarryStored"]  # the new table's CREATE, checked against the table before
        assert (carried.create,) == (stmts[0],) == (carried.sql,)
        assert carried.sql.startswith('CREATE TABLE "_umbral_new_')
        assert carried.expected.startswith(f'CREATE TABLE "{rebuild.table}" (')
        swap = ways["KeepTriggersAndIndexes"]  # from the drop of the old table to the end
        assert swap.statements == tuple(stmts[stmts.index(swap.sql) :])
        assert swap.sql == f'DROP TABLE "{rebuild.table}"'

    [rebuild] = steps["drop-not-null-rebuilds"]
    edit = offered["drop-not-null-rebuilds"]["EditDefinition"]
    assert rebuild.instead == (edit,)  # in place of the whole rebuild
    assert edit.expected == CREATE_AUTHOR[0]
    assert edit.sql == CREATE_AUTHOR[0].replace("VARCHAR(100) NOT NULL", "VARCHAR(100)")
    [rebuild] = steps["alter-column-rebuilds"]
    copy = offered["alter-column-rebuilds"]["CopyAll"]
    assert rebuild.copy == (
        'INSERT INTO "_umbral_new_author" ("id", "name", "email") '
        'SELECT "id", "name", "email" FROM "author"'
    )
    assert copy.expected == CREATE_AUTHOR[0]
    assert copy.sql == 'INSERT INTO "_umbral_new_author" SELECT * FROM "author"'


def test_a_rebuild_is_one_step_among_the_migration_statements() -> None:
    pm = new_manager()
    pm.register(sqlite_plugin, name="sqlite")
    drop_not_null = next(c[1] for c in CASES if c[0] == "drop-not-null-rebuilds")
    add_index = ops.AddIndex(table="post", columns=("title",))
    migration = Migration("app", "0002_x", [add_index, drop_not_null], EMPTY)
    rendered = executor.render_migration(pm, SQLiteBackend(), migration, dict(STATE))
    index, rebuild = rendered.statements
    assert str(index) == 'CREATE INDEX "idx_post_title" ON "post" ("title")'
    assert isinstance(rebuild, Rebuild)
    # The run time tries the edit in place first, then the rebuild with its adaptations.
    assert [type(w) for w in rebuild.ways()] == [
        EditDefinition, CarryStored, CopyAll, KeepTriggersAndIndexes
    ]  # fmt: skip
    # What sqlmigrate shows: the rebuild's statements, as rendered.
    expected = next(c[2] for c in CASES if c[0] == "drop-not-null-rebuilds")
    assert [stmts for _, stmts in rendered.parts] == [[str(index)], expected]


def test_drop_view_and_drop_m2m() -> None:
    b = SQLiteBackend()
    assert b.render(ops.DropView(name="recent"), RenderContext()) == [
        'DROP VIEW IF EXISTS "recent"'
    ]
    assert b.render(ops.DropM2MTable(table="post_tags"), RenderContext()) == [
        'DROP TABLE "post_tags"'
    ]


def test_rebuild_without_a_known_table_is_an_error() -> None:
    from umbral.errors import UnsupportedChange

    op = ops.AlterColumn(
        table="ghost", column="c", from_=Column("c", "Text"), to=Column("c", "Text", nullable=True)
    )
    with pytest.raises(UnsupportedChange, match="table `ghost` is not in the plugin's schema"):
        SQLiteBackend().render(op, RenderContext(migration="app/0002_x"))


# -- the same statements on a real SQLite file --------------------------------------------------


def _run(url: str, plugin_id: str, operations: list[ops.Operation], state: ops.State) -> None:
    """Render through the hook and apply through the executor, as `umbral migrate` does."""
    pm = new_manager()
    pm.register(sqlite_plugin, name="sqlite")
    backend = SQLiteBackend()
    migration = Migration("app", plugin_id, operations, EMPTY)
    rendered = executor.render_migration(pm, backend, migration, state)
    engine = backend.create_engine(url)
    try:
        with engine.connect() as conn:
            with executor.write_transaction(conn, backend):
                recorder.ensure_table(conn)
            assert executor.apply_one(executor.Session(conn, backend), rendered)
    finally:
        engine.dispose()


@pytest.mark.parametrize(("op", "check"), [(c[1], c[3]) for c in CASES], ids=[c[0] for c in CASES])
def test_statements_run_on_sqlite(tmp_path: Path, op: ops.Operation, check: Callable) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    setup = [
        ops.CreateTable(table=m.table, columns=m.fields, unique_together=m.unique_together)
        for m in (AUTHOR, POST)
    ]
    _run(url, "0001_setup", setup, {})
    # A row in each table: rebuilds must keep it.
    execute(
        url,
        "INSERT INTO author (name, email) VALUES ('Ann', 'a@x')",
        "INSERT INTO post (title, author) VALUES ('hello', 1)",
    )
    _run(url, "0002_case", [op], dict(STATE))
    schema = schema_of(url)
    assert check(schema), schema
    assert rows(url, "SELECT name FROM umbral_migrations ORDER BY name") == [
        ("0001_setup",),
        ("0002_case",),
    ]
    if "author" in schema:
        assert rows(url, "SELECT id FROM author") == [(1,)]
    for table in ("post", "article"):
        if table in schema and not isinstance(op, ops.RunSql):
            assert rows(url, f"SELECT id FROM {table}") == [(1,)]


def test_indexes_follow_a_renamed_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    history: list[list[ops.Operation]] = [
        [
            ops.CreateTable(table="author", columns=AUTHOR.fields),
            ops.CreateTable(
                table="post", columns=POST.fields, unique_together=POST.unique_together
            ),
        ],
        [ops.RenameTable(from_="post", to="article")],
        [ops.DropColumn(table="article", column="status")],
    ]
    state: ops.State = {}
    for i, operations in enumerate(history, 1):
        _run(url, f"{i:04d}_step", operations, state)
        state = ops.apply_all(state, operations)
    assert columns(schema_of(url), "article") == ["id", "title", "author"]
    # Every index left on the table carries the name SPEC §6 gives it for `article`.
    assert index_names(schema_of(url), "article") == {
        "uniq_article_author_title",
        "idx_article_author",
    }


@pytest.mark.parametrize("laid_out_as_state", [True, False])
def test_shortcuts_are_taken_only_for_a_table_laid_out_as_its_state(
    tmp_path: Path, laid_out_as_state: bool
) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    if laid_out_as_state:
        _run(url, "0001_setup", [ops.CreateTable(table="author", columns=AUTHOR.fields)], {})
    else:  # the same columns, created by hand in another order
        execute(
            url,
            'CREATE TABLE "author" ("email" TEXT NOT NULL, '
            '"id" INTEGER PRIMARY KEY AUTOINCREMENT, "name" VARCHAR(100) NOT NULL)',
        )
    execute(url, "INSERT INTO author (id, name, email) VALUES (7, 'Ann', 'a@x')")
    backend = SQLiteBackend()
    by_kind: dict[type, Any] = {}
    for case_id in ("alter-column-rebuilds", "drop-not-null-rebuilds"):
        ctx = RenderContext(state={"author": AUTHOR})
        [rebuild] = backend.render(next(c[1] for c in CASES if c[0] == case_id), ctx)
        by_kind.update({type(w): (w, rebuild) for w in rebuild.ways()})
    engine = backend.create_engine(url)
    try:
        with engine.connect() as conn, executor.write_transaction(conn, backend):
            copy, rebuild = by_kind[CopyAll]
            conn.exec_driver_sql(rebuild.create)  # CREATE TABLE "_umbral_new_author"
            live = Live(driver_cursor(conn), "author")
            assert copy.applies(live) is laid_out_as_state
            if laid_out_as_state:
                assert copy.run(live)
            copied = conn.exec_driver_sql(
                'SELECT id, name, email FROM "_umbral_new_author"'
            ).fetchall()
            assert copied == ([(7, "Ann", "a@x")] if laid_out_as_state else [])
            conn.exec_driver_sql('DROP TABLE "_umbral_new_author"')
            edit, _ = by_kind[EditDefinition]
            live = Live(driver_cursor(conn), "author")
            assert (edit.applies(live) and edit.run(live)) is laid_out_as_state
            notnull = {r[1]: r[3] for r in conn.exec_driver_sql("PRAGMA table_info(author)")}
            assert notnull["name"] == (0 if laid_out_as_state else 1)
    finally:
        engine.dispose()
    # Committed: a new connection sees the definition the shortcut left.
    assert rows(url, "SELECT id, name, email FROM author") == [(7, "Ann", "a@x")]
    assert rows(url, "PRAGMA integrity_check") == [("ok",)]


def test_a_rebuild_carries_the_counter_only_between_autoincrement_keys() -> None:
    code = Column("code", "Text", primary_key=True)
    qty = Column("qty", "Integer")
    keyed_by_text = ModelState("stock", "stock", (code, qty))
    op = ops.AlterColumn(table="stock", column="qty", from_=qty, to=replace(qty, type="Text"))
    stmts = plain_sql(SQLiteBackend().render(op, RenderContext(state={"stock": keyed_by_text})))
    assert any(s.startswith('DROP TABLE "stock"') for s in stmts)  # rebuilt
    assert not any("sqlite_sequence" in s for s in stmts)  # no AUTOINCREMENT, no counter
    # An integer key that becomes a text key: the new table has no counter to take.
    op = ops.AlterColumn(table="post", column="id", from_=ID, to=replace(ID, type="Text"))
    stmts = plain_sql(SQLiteBackend().render(op, RenderContext(state=dict(STATE))))
    assert not any("sqlite_sequence" in s for s in stmts)


def test_an_in_place_edit_is_kept_only_if_it_changed_what_it_may() -> None:
    from umbral_sqlite.catalog import edited_in_place as _edited_in_place

    # PRAGMA table_info rows: cid, name, type, notnull, dflt_value, pk
    before = [(0, "id", "INTEGER", 0, None, 1), (1, "name", "VARCHAR(20)", 1, None, 0)]

    def kept(name_row: tuple) -> bool:
        return _edited_in_place(before, [before[0], name_row])

    assert kept((1, "name", "VARCHAR(20)", 0, None, 0))  # NOT NULL dropped
    assert kept((1, "name", "VARCHAR(40)", 1, None, 0))  # widened
    assert kept((1, "name", "TEXT", 0, None, 0))  # same affinity, and nullable
    # A default is never edited in place: rows written before an ADD COLUMN would read it.
    assert not kept((1, "name", "TEXT", 0, "'x'", 0))
    assert not kept((1, "name", "VARCHAR(20)", 1, "'x'", 0))
    assert not kept((1, "name", "VARCHAR(20)", 1, None, 0))  # nothing changed
    assert not _edited_in_place(
        [before[0], (1, "name", "VARCHAR(20)", 0, None, 0)], before
    )  # NOT NULL added
    assert not kept((1, "name", "BLOB", 0, None, 0))  # another affinity
    assert not kept((1, "nom", "VARCHAR(20)", 0, None, 0))  # renamed
    assert not kept((1, "name", "VARCHAR(20)", 0, None, 1))  # now in the primary key
    assert not _edited_in_place(before, [before[0]])  # a column gone
    assert not _edited_in_place(  # two columns changed
        before, [(0, "id", "INTEGER", 0, "1", 1), (1, "name", "VARCHAR(20)", 0, None, 0)]
    )


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("INTEGER", "INTEGER"),
        ("BIGINT", "INTEGER"),
        ("VARCHAR(20)", "TEXT"),
        ("TEXT", "TEXT"),
        ("BLOB", "BLOB"),
        ("", "BLOB"),
        ("DOUBLE", "REAL"),
        ("REAL", "REAL"),
        ("TIMESTAMPTZ", "NUMERIC"),
        ("JSON", "NUMERIC"),
        ("DECIMAL", "NUMERIC"),
    ],
)
def test_type_affinity_follows_sqlites_rules(declared: str, expected: str) -> None:
    from umbral_sqlite.catalog import affinity

    assert affinity(declared) == expected


# -- in-place edits leave what the rebuild leaves ------------------------------------------------

ITEM = ModelState(
    "item",
    "item",
    (
        ID,
        Column("code", "Text", max_length=20, unique=True),
        Column("qty", "Integer", default=0, index=True),
        Column("note", "Text", nullable=True),
    ),
)
# Values of every storage class a column of each affinity can hold, one longer than any
# narrowed length: the rebuild's copy keeps each as it is, so must the in-place edit.
ITEM_ROWS = [
    "INSERT INTO item (code, qty, note) VALUES ('abc', 1, NULL)",
    "INSERT INTO item (code, qty, note) VALUES ('a-code-longer-than-twenty', 2, 'n')",
    "INSERT INTO item (code, qty, note) VALUES (42, 'seven', x'00ff')",
    "INSERT INTO item (code, qty, note) VALUES ('x', 2.5, 3)",
]
IN_PLACE = {
    "drop NOT NULL": ("code", {"nullable": True}),
    "widen": ("code", {"max_length": 40}),
    "narrow": ("code", {"max_length": 10}),
    "unbounded and nullable": ("code", {"max_length": None, "nullable": True}),
    "integer to bigint": ("qty", {"type": "BigInt"}),
}


def _item_db(url: str, laid_out_as_state: bool) -> None:
    if laid_out_as_state:
        _run(url, "0001_setup", [ops.CreateTable(table="item", columns=ITEM.fields)], {})
    else:  # the same table created by hand: its text differs from what umbral renders
        backend = SQLiteBackend()
        create = backend.create_table_sql("item", ITEM.fields)
        execute(url, create.replace(" (", "  (", 1), *backend.table_indexes_sql(ITEM))
    execute(url, *ITEM_ROWS)


def _stored(url: str) -> dict[str, Any]:
    """Everything a user could see of the table: definitions, values with their storage
    classes, indexes; and the table's root page, which only a rebuild moves."""
    return {
        "schema": rows(
            url,
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE tbl_name = 'item' ORDER BY type, name",
        ),
        "rows": rows(
            url,
            "SELECT id, code, typeof(code), qty, typeof(qty), note, typeof(note) "
            "FROM item ORDER BY id",
        ),
        "columns": rows(url, "PRAGMA table_info(item)"),
        "integrity": rows(url, "PRAGMA integrity_check"),
        "rootpage": rows(url, "SELECT rootpage FROM sqlite_master WHERE name = 'item'"),
    }


@pytest.mark.parametrize("change", list(IN_PLACE))
def test_an_in_place_edit_leaves_what_the_rebuild_leaves(tmp_path: Path, change: str) -> None:
    column, attrs = IN_PLACE[change]
    before = ITEM.column(column)
    op = ops.AlterColumn(table="item", column=column, from_=before, to=replace(before, **attrs))
    outcome = {}
    for laid_out_as_state in (True, False):
        url = f"sqlite:///{tmp_path / f'{laid_out_as_state}.sqlite3'}"
        _item_db(url, laid_out_as_state)
        start = _stored(url)
        _run(url, "0002_alter", [op], {"item": ITEM})
        outcome[laid_out_as_state] = end = _stored(url)
        assert end["integrity"] == [("ok",)]
        # Edited in place (the rows stay on their pages) or rebuilt (a new table).
        assert (end["rootpage"] == start["rootpage"]) is laid_out_as_state, change
    edited, rebuilt = outcome[True], outcome[False]
    for part in ("schema", "rows", "columns"):
        assert edited[part] == rebuilt[part], part
    assert len(edited["rows"]) == len(ITEM_ROWS)


def test_a_type_of_another_affinity_is_rebuilt_and_converts(tmp_path: Path) -> None:
    # Why the in-place edit keeps to one affinity: the rebuild's copy converts values to the
    # new column's affinity, which an edit of the definition text would not do.
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    _item_db(url, laid_out_as_state=True)
    start = _stored(url)
    qty = ITEM.column("qty")
    op = ops.AlterColumn(table="item", column="qty", from_=qty, to=replace(qty, type="Double"))
    _run(url, "0002_alter", [op], {"item": ITEM})
    end = _stored(url)
    assert end["rootpage"] != start["rootpage"]
    assert [r[3:5] for r in end["rows"]] == [
        (1.0, "real"),
        (2.0, "real"),
        ("seven", "text"),
        (2.5, "real"),
    ]


# -- the tables before each operation are built only when a renderer reads them ----------------


def test_the_state_before_a_migration_is_built_only_if_a_renderer_reads_it() -> None:
    pm = new_manager()
    pm.register(sqlite_plugin, name="sqlite")
    calls = []

    def before() -> ops.State:
        calls.append(1)
        return dict(STATE)

    tag = ops.CreateTable(table="tag", columns=(ID, Column("label", "Text")))
    index = ops.AddIndex(table="post", columns=("title",))
    quiet = Migration("app", "0002_x", [tag, index], EMPTY)
    executor.render_migration(pm, SQLiteBackend(), quiet, before)
    assert calls == []  # neither operation looks at the tables
    # A rebuild reads them: once for the whole migration, with the earlier operations applied.
    add = ops.AddColumn(table="tag", column=Column("note", "Text", nullable=True))
    widen = ops.AlterColumn(
        table="tag",
        column="label",
        from_=Column("label", "Text"),
        to=Column("label", "Text", nullable=True),
    )
    drop_not_null = next(c[1] for c in CASES if c[0] == "drop-not-null-rebuilds")
    busy = Migration("app", "0002_x", [tag, add, widen, drop_not_null], EMPTY)
    rendered = executor.render_migration(pm, SQLiteBackend(), busy, before)
    assert calls == [1]
    assert (  # the rebuild of `tag` knows the column added before it
        'CREATE TABLE "_umbral_new_tag" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, '
        '"label" TEXT, "note" TEXT)'
    ) in plain_sql(rendered.statements)
    eager = executor.render_migration(pm, SQLiteBackend(), busy, dict(STATE))
    assert eager.statements == rendered.statements


def test_a_state_thread_applies_the_operations_before_each_index() -> None:
    tag = ops.CreateTable(table="tag", columns=(ID,))
    rename = ops.RenameTable(from_="tag", to="label")
    drop = ops.DropTable(table="post")
    operations = [tag, rename, drop]
    built = []
    thread = ops.StateThread(lambda: built.append(1) or dict(STATE), operations)
    for index in (2, 3, 0, 1, 3):  # in order, then back to an earlier one
        assert thread.before(index) == ops.apply_all(dict(STATE), operations[:index])
    assert built == [1]  # the base is built once
    lazy = thread.lazy(1)
    assert set(lazy) == {"author", "post", "tag"} and len(lazy) == 3
    assert lazy.get("ghost") is None and "tag" in lazy


def test_an_in_place_edit_that_does_not_check_out_is_undone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    _item_db(url, laid_out_as_state=True)
    start = _stored(url)
    backend = SQLiteBackend()
    expected = backend.create_table_sql("item", ITEM.fields)
    # Two columns relaxed at once: more than one AlterColumn may change.
    two = expected.replace('"code" VARCHAR(20) NOT NULL', '"code" VARCHAR(20)').replace(
        '"qty" INTEGER NOT NULL', '"qty" INTEGER'
    )
    unparsable = expected.replace('"qty" INTEGER NOT NULL', '"qty" INTEGER NOT NULL NOT')
    engine = backend.create_engine(url)
    try:
        with engine.connect() as conn, executor.write_transaction(conn, backend):
            for definition in (two, unparsable):
                assert two != expected and unparsable != expected
                edit = EditDefinition(expected, definition)
                live = Live(driver_cursor(conn), "item")
                assert edit.applies(live) and edit.run(live) is False
            # The transaction goes on, with the table as it was.
            conn.exec_driver_sql("INSERT INTO item (code, qty) VALUES ('late', 9)")
    finally:
        engine.dispose()
    end = _stored(url)
    assert end["schema"] == start["schema"]
    assert end["columns"] == start["columns"]
    assert end["rows"] == [*start["rows"], (5, "late", "text", 9, "integer", None, "null")]
    assert end["integrity"] == [("ok",)]


def test_dropping_a_unique_column_rebuilds_or_drops_in_place() -> None:
    """SQLite never drops a column of a UNIQUE constraint, which a table umbral did not create
    may hold in its definition: the rebuild is rendered, and dropping the column in place is
    offered for a table laid out as its state (its uniqueness is an index dropped first)."""
    ctx = RenderContext(state=dict(STATE))
    [rebuild] = SQLiteBackend().render(ops.DropColumn(table="author", column="email"), ctx)
    assert rebuild.create.startswith('CREATE TABLE "_umbral_new_author"') and ctx.needs_fk_off
    [in_place] = rebuild.instead  # in place of the whole rebuild
    assert isinstance(in_place, DropInPlace)
    assert in_place.expected == CREATE_AUTHOR[0]
    assert in_place.column == "email"
    assert in_place.statements == (
        'DROP INDEX IF EXISTS "uniq_author_email"',
        'ALTER TABLE "author" DROP COLUMN "email"',
    )
    ctx = RenderContext(state=dict(STATE))
    [rebuild] = SQLiteBackend().render(ops.DropColumn(table="post", column="title"), ctx)
    assert rebuild.create.startswith('CREATE TABLE "_umbral_new_post"')
    assert [type(w) for w in rebuild.instead] == [DropInPlace]
