"""The check of each operation against the tables before it (``umbral.opcheck``), on
migrations in memory: what counts as there, as taken, and as not known."""

from __future__ import annotations

import pytest

from umbral import operations as ops
from umbral.errors import MigrationFileError
from umbral.migration import Migration
from umbral.opcheck import _unknown_effect, check_plugin
from umbral.schema import EMPTY, Column

PK = Column("id", "BigInt", primary_key=True)
TEXT = Column("a", "Text", nullable=True)


def m(id: str, *operations: ops.Operation, after: tuple[str, ...] = ()) -> Migration:
    deps = [f"app/{d}" for d in after]
    return Migration("app", id, list(operations), EMPTY, depends_on=deps)


def add(column: str) -> ops.AddColumn:
    return ops.AddColumn(table="t", column=Column(column, "Text", nullable=True))


def problem(*migrations: Migration) -> str | None:
    try:
        check_plugin(migrations)
    except MigrationFileError as exc:
        return str(exc)
    return None


CREATE = m("0001_t", ops.CreateTable(table="t", columns=(PK,)))


def test_the_tables_come_from_the_operations_not_the_snapshots() -> None:
    assert problem(CREATE, m("0002_a", add("a"), after=("0001_t",))) is None
    second = m("0002_a", add("a"), add("a"), after=("0001_t",))
    assert problem(CREATE, second) == (
        "migration app/0002_a: operation #2 (AddColumn): table `t` already has a column `a` at "
        "this point; give it another name"
    )


def test_after_a_merge_a_column_is_there_if_either_branch_has_it_taken_if_both() -> None:
    a = m("0002_a", add("a"), after=("0001_t",))
    b = m("0002_b", add("b"), after=("0001_t",))
    both = ops.AddIndex(table="t", columns=("a", "b"))
    assert problem(CREATE, a, b, m("0003_m", both, after=("0002_a", "0002_b"))) is None
    # Only one branch has `a`: adding it after the merge is not refused (the other may run).
    assert problem(CREATE, a, b, m("0003_m", add("a"), after=("0002_a", "0002_b"))) is None
    a2 = m("0002_b", add("a"), after=("0001_t",))
    refused = problem(CREATE, a, a2, m("0003_m", add("a"), after=("0002_a", "0002_b")))
    assert refused is not None and "already has a column `a`" in refused


def test_a_table_cannot_take_a_junction_name() -> None:
    junction = ops.CreateM2MTable(
        table="t_tags", parent_table="t", parent_column="id", child_table="t", child_column="id"
    )
    made = m("0002_j", junction, after=("0001_t",))
    again = m("0003_c", ops.CreateTable(table="t_tags", columns=(PK,)), after=("0002_j",))
    assert problem(CREATE, made, again) == (
        "migration app/0003_c: operation #1 (CreateTable): table `t_tags` already exists at "
        "this point; give it another name"
    )
    renamed = m("0003_r", ops.RenameTable(from_="t_tags", to="t_labels"), after=("0002_j",))
    again = m("0004_c", ops.CreateTable(table="t_labels", columns=(PK,)), after=("0003_r",))
    refused = problem(CREATE, made, renamed, again)
    assert refused is not None and "table `t_labels` already exists" in refused
    # The old name is free again.
    free = m("0004_c", ops.CreateTable(table="t_tags", columns=(PK,)), after=("0003_r",))
    assert problem(CREATE, made, renamed, free) is None


def test_a_predecessor_not_on_disk_means_nothing_is_known() -> None:
    assert problem(m("0002_a", ops.DropColumn(table="t", column="x"), after=("0001_t",))) is None


def test_a_file_after_a_squash_may_name_an_original() -> None:
    squash = Migration(
        "app", "0001_squashed_0002", [ops.CreateTable(table="t", columns=(PK, TEXT))], EMPTY,
        replaces=["app/0001_t", "app/0002_a"],
    )  # fmt: skip
    drop = m("0003_drop", ops.DropColumn(table="t", column="a"), after=("0002_a",))
    assert problem(squash, drop) is None
    again = m("0003_drop", ops.DropColumn(table="t", column="b"), after=("0002_a",))
    assert problem(squash, again) is not None
    # An original still on disk after one gone: the tables before it are not known.
    original = m("0002_a", add("a"), after=("0001_t",))
    assert problem(squash, original, drop) is None


def test_a_long_history_is_worked_out_without_recursion() -> None:
    chain = [CREATE] + [
        m(f"{i:04d}_c{i}", add(f"c{i}"), after=(CREATE.id if i == 2 else f"{i - 1:04d}_c{i - 1}",))
        for i in range(2, 3000)
    ]
    assert problem(*chain) is None
    chain.append(m("3000_again", add("c5"), after=("2999_c2999",)))
    assert "already has a column `c5`" in (problem(*chain) or "")


@pytest.mark.parametrize(
    ("sql", "unknown"),
    [
        ("UPDATE t SET a = 1; DELETE FROM t WHERE a IS NULL", False),
        ("-- a backfill\nINSERT INTO t (a) SELECT 'x'", False),
        ("SELECT 1", False),
        ("TRUNCATE t", False),
        ("CREATE INDEX ix ON t (a)", False),
        ("CREATE UNIQUE INDEX ix ON t (a)", False),
        ("CREATE OR REPLACE VIEW v AS SELECT 1", False),
        ("DROP VIEW v", False),
        ("WITH x AS (SELECT 1) SELECT * FROM x", True),  # may call a function
        ("SELECT mk()", True),
        ("SELECT id\nINTO archive FROM t", True),
        ("CREATE OR REPLACE TABLE t (x INT)", True),
        ("DROP TYPE mood CASCADE", True),
        ("CREATE EXTENSION postgis", True),
        ("CREATE TEMP TABLE x (a INT)", True),
        ("CREATE MATERIALIZED VIEW mv AS SELECT 1", True),
        ("ALTER TABLE t ADD COLUMN b TEXT", True),
        ("UPDATE t SET a = 1; CREATE TABLE u (x INT)", True),
        ("DROP TABLE t", True),
        ("DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$", True),
    ],
)
def test_which_sql_changes_tables(sql: str, unknown: bool) -> None:
    assert _unknown_effect(ops.RunSql(sql=sql)) is unknown


def test_python_may_change_anything() -> None:
    assert _unknown_effect(ops.RunPython(code="app.data:fill"))
    after = m("0002_py", ops.RunPython(code="app.data:fill"), after=("0001_t",))
    assert problem(CREATE, after, m("0003_x", add("x"), add("x"), after=("0002_py",))) is None


def test_a_cycle_is_left_to_the_graph() -> None:
    a = m("0002_a", add("a"), add("a"), after=("0003_b",))
    b = m("0003_b", add("b"), after=("0002_a",))
    assert problem(CREATE, a, b) is None
