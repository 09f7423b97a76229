"""One transaction per migration (SPEC §8): a failing statement leaves no trace of its migration.

pysqlite commits DDL behind the caller's back unless the backend takes over transaction control
(tech notes §3.3); these tests prove on real databases that a CREATE TABLE followed by a failing
statement rolls back, tracking row included, while earlier migrations stay applied.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from conftest import Project, require_transactional_ddl, rows, schema_of, sqlite_path
from umbral import executor, recorder
from umbral import operations as ops
from umbral.errors import MigrationFailed
from umbral.migration import Migration
from umbral.plugins import new_manager
from umbral.schema import EMPTY, Column
from umbral_sqlite import plugin as sqlite_plugin
from umbral_sqlite.backend import SQLiteBackend

ID = Column("id", "BigInt", primary_key=True)


def _migration(mid: str, *operations: ops.Operation) -> Migration:
    return Migration("app", mid, list(operations), EMPTY)


def _apply(url: str, *migrations: Migration) -> list[str]:
    """Render and apply through the executor with the real SQLite plugin and engine."""
    pm = new_manager()
    pm.register(sqlite_plugin, name="sqlite")
    backend = SQLiteBackend()
    plan, state = [], {}
    for m in migrations:  # each migration renders against the tables the ones before it left
        plan.append(executor.render_migration(pm, backend, m, state))
        state = ops.apply_all(state, m.operations)
    engine = backend.create_engine(url)
    try:
        with engine.connect() as conn:
            with executor.write_transaction(conn, backend):
                recorder.ensure_table(conn)
            return executor.apply_plan(executor.Session(conn, backend), plan)
    finally:
        engine.dispose()


def test_executor_rolls_back_a_migration_whose_second_statement_fails(sqlite_url: str) -> None:
    good = _migration("0001_good", ops.CreateTable(table="kept", columns=(ID,)))
    bad = _migration(
        "0002_bad",
        ops.CreateTable(table="half", columns=(ID,)),
        ops.RunSql(sql="INSERT INTO nowhere (id) VALUES (1)"),
    )
    later = _migration("0003_later", ops.CreateTable(table="later", columns=(ID,)))
    with pytest.raises(MigrationFailed) as exc:
        _apply(sqlite_url, good, bad, later)
    e = exc.value
    assert (e.key, e.statement) == ("app/0002_bad", "INSERT INTO nowhere (id) VALUES (1)")
    assert "no such table: nowhere" in e.error
    assert str(e) == (
        "umbral migrate: migration app/0002_bad failed and was rolled back: no such table: nowhere"
    )
    # The first migration stays, the failing one left nothing, the run stopped there.
    assert set(schema_of(sqlite_url)) == {"kept", "umbral_migrations"}
    assert rows(sqlite_url, "SELECT plugin, name FROM umbral_migrations") == [("app", "0001_good")]


def test_a_failing_ddl_statement_inside_one_operation_rolls_back_the_ones_before(
    sqlite_url: str,
) -> None:
    # CreateTable renders CREATE TABLE then CREATE UNIQUE INDEX; an index on a name that
    # already exists fails after the table was created.
    _apply(
        sqlite_url,
        _migration(
            "0001_setup",
            ops.RunSql(sql="CREATE TABLE other (x INTEGER)"),
            ops.RunSql(sql='CREATE INDEX "uniq_t_code" ON other (x)'),
        ),
    )
    bad = _migration(
        "0002_bad",
        ops.CreateTable(table="t", columns=(ID, Column("code", "Text", unique=True))),
    )
    with pytest.raises(MigrationFailed) as exc:
        _apply(sqlite_url, bad)
    assert exc.value.statement == 'CREATE UNIQUE INDEX "uniq_t_code" ON "t" ("code")'
    assert "already exists" in exc.value.error
    assert "t" not in schema_of(sqlite_url)
    assert rows(sqlite_url, "SELECT name FROM umbral_migrations") == [("0001_setup",)]


def test_rerun_after_fixing_the_failure_applies_it(sqlite_url: str) -> None:
    bad = _migration(
        "0001_x",
        ops.CreateTable(table="half", columns=(ID,)),
        ops.RunSql(sql="INSERT INTO nowhere (id) VALUES (1)"),
    )
    with pytest.raises(MigrationFailed):
        _apply(sqlite_url, bad)
    # Had the CREATE TABLE survived, this re-run would fail with "table half already exists".
    fixed = _migration(
        "0001_x",
        ops.CreateTable(table="half", columns=(ID,)),
        ops.RunSql(sql="INSERT INTO half (id) VALUES (1)"),
    )
    assert _apply(sqlite_url, fixed) == ["app/0001_x"]
    assert rows(sqlite_url, "SELECT id FROM half") == [(1,)]


def test_batched_migrations_keep_the_foreign_key_mode_they_need(sqlite_url: str) -> None:
    """One run mixes a rebuild (enforcement off), migrations that run the same either way and
    hand-written SQL that relies on enforcement (ON DELETE CASCADE): each gets its mode."""
    fk = Column("author_id", "ForeignKey", nullable=True, fk_target="author", fk_column="id",
                on_delete="cascade")  # fmt: skip
    name = Column("name", "Text", nullable=False)
    plan = [
        _migration(
            "0001_tables",
            ops.CreateTable(table="author", columns=(ID, name)),
            ops.CreateTable(table="book", columns=(ID, fk)),
        ),
        _migration(
            "0002_rows",
            ops.RunSql(sql="INSERT INTO author (id, name) VALUES (1, 'a'), (2, 'b')"),
            ops.RunSql(sql="INSERT INTO book (id, author_id) VALUES (10, 1), (11, 1), (12, 2)"),
        ),
        # A rebuild of the parent: needs enforcement off (it drops and re-creates `author`).
        _migration(
            "0003_nullable",
            ops.AlterColumn(
                table="author", column="name", from_=name, to=Column("name", "Text", nullable=True)
            ),
        ),
        # Runs the same in either mode: joins the rebuild's batch.
        _migration("0004_index", ops.AddIndex(table="author", columns=("name",))),
        # Deleting a parent must cascade, so this one needs enforcement on.
        _migration("0005_delete", ops.RunSql(sql="DELETE FROM author WHERE id = 1")),
    ]
    state_free = [m.id for m in plan]
    assert _apply(sqlite_url, *plan) == [f"app/{mid}" for mid in state_free]
    assert rows(sqlite_url, "SELECT id, name FROM author") == [(2, "b")]
    # The rebuild kept the children; the cascade removed the deleted author's books.
    assert rows(sqlite_url, "SELECT id, author_id FROM book ORDER BY id") == [(12, 2)]
    assert rows(sqlite_url, "PRAGMA foreign_key_check") == []
    assert rows(sqlite_url, "SELECT name FROM umbral_migrations ORDER BY name") == [
        (mid,) for mid in state_free
    ]


def test_batches_group_by_foreign_key_mode() -> None:
    """Which migrations may share a transaction: neutral ones join either mode, a change of
    mode ends the batch, a non-atomic migration runs alone."""

    def rendered(mid: str, *, off: bool = False, neutral: bool = False) -> executor.Rendered:
        r = executor.Rendered(_migration(mid), [])
        r.needs_fk_off, r.fk_neutral = off, neutral
        return r

    plan = [
        rendered("0001", neutral=True),
        rendered("0002", off=True),
        rendered("0003", neutral=True),
        rendered("0004", off=True),
        rendered("0005"),
        rendered("0006", neutral=True),
        rendered("0007", off=True),
        rendered("0008", neutral=True),
    ]
    plan[7].migration.atomic = False

    def groups() -> list[tuple[list[str], bool]]:
        out, i = [], 0
        while i < len(plan):
            end, fk_off = executor.batch_end(plan, i, batching=True)
            out.append(([r.migration.id for r in plan[i:end]], fk_off))
            i = end
        return out

    assert groups() == [
        (["0001", "0002", "0003", "0004"], True),
        (["0005", "0006"], False),
        (["0007"], True),
        (["0008"], False),
    ]
    assert executor.batch_end(plan, 0, batching=False) == (1, False)


# -- through the CLI, on each backend ------------------------------------------------------------


def _hand_written(p: Project, mid: str, *operations: dict) -> Path:
    """Fill the empty migration `makemigrations --empty` wrote, as a user would by hand."""
    path = p.root / "migrations" / "app" / f"{mid}.json"
    data = json.loads(path.read_text())
    data["operations"] = list(operations)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def test_cli_failing_migration_is_rolled_back_and_named(any_project: Project) -> None:
    p = any_project
    require_transactional_ddl(p.database)
    p.models(
        """
        class Post(Model):
            title = fields.Text()
        """
    )
    assert p.run("makemigrations").code == 0
    r = p.run("makemigrations", "--empty", "app", "--name", "backfill")
    assert r.code == 0, r
    _hand_written(
        p,
        "0002_backfill",
        {"kind": "RunSql", "sql": "CREATE TABLE side_effect (x INTEGER)"},
        {"kind": "RunSql", "sql": "INSERT INTO missing_table (x) VALUES (1)"},
    )
    r = p.run("migrate")
    assert r.code == 1, r
    assert r.stdout == ""
    assert r.err_lines[0].startswith(
        "error: umbral migrate: migration app/0002_backfill failed and was rolled back: "
    )
    # The database's own words: SQLite "no such table", Postgres "relation ... does not exist".
    assert "missing_table" in r.err_lines[0]
    assert "  statement: INSERT INTO missing_table (x) VALUES (1)" in r.err_lines
    assert "Traceback" not in r.stderr
    tables = set(schema_of(p.database))
    assert "post" in tables
    assert "side_effect" not in tables
    assert rows(p.database, "SELECT plugin, name FROM umbral_migrations") == [
        ("app", "0001_create_post")
    ]
    # Fixing the file and re-running applies it: nothing half-done was left behind.
    _hand_written(
        p,
        "0002_backfill",
        {"kind": "RunSql", "sql": "CREATE TABLE side_effect (x INTEGER)"},
        {"kind": "RunSql", "sql": "INSERT INTO side_effect (x) VALUES (1)"},
    )
    r = p.run("migrate")
    assert r.code == 0, r
    assert r.out_lines == ["Applied 1 migration(s)"]
    assert rows(p.database, "SELECT x FROM side_effect") == [(1,)]


def _author_and_books(sqlite_url: str) -> list[Migration]:
    """An author table and a book table whose key on it was never enforced: book 12 points
    at author 9, which does not exist (a database written with enforcement off). Returns the
    migrations applied (a later plan renders on the tables they made, and skips them)."""
    fk = Column("author_id", "ForeignKey", nullable=True, fk_target="author", fk_column="id")
    history = [
        _migration(
            "0001_tables",
            ops.CreateTable(table="author", columns=(ID, Column("name", "Text"))),
            ops.CreateTable(table="book", columns=(ID, fk)),
        ),
        _migration(
            "0002_rows",
            ops.RunSql(sql="INSERT INTO author (id, name) VALUES (1, 'a'), (2, 'b')"),
            ops.RunSql(sql="INSERT INTO book (id, author_id) VALUES (10, 1), (11, 2)"),
        ),
    ]
    _apply(sqlite_url, *history)
    conn = sqlite3.connect(sqlite_path(sqlite_url))  # enforcement is off by default
    conn.execute("INSERT INTO book (id, author_id) VALUES (12, 9)")
    conn.commit()
    conn.close()
    return history


def _nullable_name() -> ops.AlterColumn:
    """A rebuild of the parent table (enforcement off)."""
    return ops.AlterColumn(
        table="author",
        column="name",
        from_=Column("name", "Text"),
        to=Column("name", "Text", nullable=True),
    )


def test_a_rebuild_keeps_a_dangling_reference_that_was_there_before(sqlite_url: str) -> None:
    history = _author_and_books(sqlite_url)
    dangling = rows(sqlite_url, "PRAGMA foreign_key_check")
    assert len(dangling) == 1
    assert _apply(sqlite_url, *history, _migration("0003_nullable", _nullable_name())) == [
        "app/0003_nullable"
    ]
    assert rows(sqlite_url, "SELECT id, author_id FROM book ORDER BY id") == [
        (10, 1), (11, 2), (12, 9)
    ]  # fmt: skip
    assert rows(sqlite_url, "PRAGMA foreign_key_check") == dangling


def test_a_rebuild_that_leaves_a_new_dangling_reference_is_rolled_back(sqlite_url: str) -> None:
    # With enforcement off for the rebuild, the DELETE does not cascade: book 10 would point
    # at nothing. The one there before (book 12) is not counted.
    history = _author_and_books(sqlite_url)
    bad = _migration(
        "0003_bad", _nullable_name(), ops.RunSql(sql="DELETE FROM author WHERE id = 1")
    )
    with pytest.raises(MigrationFailed) as exc:
        _apply(sqlite_url, *history, bad)
    assert (exc.value.statement, exc.value.error) == (
        "PRAGMA foreign_key_check",
        "it would leave 1 new dangling foreign-key reference(s) (e.g. `book.author_id` = 1: no "
        "row of `author` has that id)",
    )
    assert rows(sqlite_url, "SELECT id FROM author ORDER BY id") == [(1,), (2,)]
    assert rows(sqlite_url, "SELECT name FROM umbral_migrations ORDER BY name") == [
        ("0001_tables",), ("0002_rows",)
    ]  # fmt: skip
