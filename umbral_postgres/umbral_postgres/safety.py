"""PostgreSQL safety rules (SPEC §10; peer-tools §2a-2d): locks, scans and table rewrites.

Pure: classifies operations, touches no database. Each rule has a stable tag and names the
table and column, what the statement locks or scans, and the safe alternative. Every rule is a
WARNING: they are about locking and data-dependent failures, not lost data, and ``migrate``
refuses every UNSAFE operation as destructive (SPEC §8), which these are not. ``checkmigrations
--strict`` fails on them.
"""

from __future__ import annotations

import re
from typing import Any

from umbral import operations as ops
from umbral.backend import integer_pk
from umbral.safety import Finding, OpSafety, tables_created_before
from umbral.schema import Column

TAG_INDEX = "PG INDEX LOCK"
TAG_DROP_INDEX = "PG DROP INDEX LOCK"
TAG_UNIQUE = "PG UNIQUE CONSTRAINT"
TAG_FK = "PG VALIDATED FK"
TAG_CHECK = "PG VALIDATED CHECK"
TAG_NOT_NULL = "PG SET NOT NULL"
TAG_DROP_NOT_NULL = "PG DROP NOT NULL"
TAG_REWRITE = "PG TABLE REWRITE"
TAG_SQL_INDEX = "PG RUN SQL INDEX"
TAG_SQL_TXN = "PG RUN SQL TRANSACTION"

W = OpSafety.WARNING

_CONCURRENT_ADVICE = (
    'Safe alternative: set "concurrent": true on the operation, in a migration of its own '
    'with "atomic": false (CREATE INDEX CONCURRENTLY does not block writes)'
)


def _index_finding(backend: Any, table: str, columns: tuple[str, ...], unique: bool) -> Finding:
    name = backend.index_name(table, columns, unique)
    cols = ", ".join(columns)
    extra = "; it also fails if existing rows have duplicates" if unique else ""
    return Finding(
        W,
        TAG_INDEX,
        f"builds index `{name}` on existing table `{table}({cols})` without CONCURRENTLY: "
        f"writes to `{table}` block for the whole build{extra}. {_CONCURRENT_ADVICE}",
    )


def _unique_finding(backend: Any, table: str, column: str) -> Finding:
    name = backend.constraint_name(table, column, "key")
    return Finding(
        W,
        TAG_UNIQUE,
        f"adds unique constraint `{name}` on `{table}.{column}`: the index is "
        f"built under an ACCESS EXCLUSIVE lock (reads and writes of `{table}` wait) and it "
        "fails if rows have duplicates. Safe alternative: de-duplicate, CREATE UNIQUE INDEX "
        "CONCURRENTLY in a non-atomic migration, then ALTER TABLE ... ADD CONSTRAINT ... UNIQUE "
        "USING INDEX",
    )


def _fk_finding(backend: Any, table: str, col: Column) -> Finding:
    name = backend.constraint_name(table, col.name, "fkey")
    return Finding(
        W,
        TAG_FK,
        f"adds foreign key `{name}` on `{table}.{col.name}` -> "
        f"`{col.fk_target}`: validating it scans `{table}` while both tables are locked against "
        "writes. Safe alternative: add the constraint NOT VALID (RunSql), then VALIDATE "
        "CONSTRAINT in a later migration",
    )


def _check_finding(backend: Any, table: str, col: Column) -> Finding:
    name = backend.constraint_name(table, col.name, "check")
    return Finding(
        W,
        TAG_CHECK,
        f"adds check constraint `{name}` (choices) on `{table}.{col.name}`: "
        f"validating it scans `{table}` under an ACCESS EXCLUSIVE lock and fails on rows "
        "outside the choices. Safe alternative: add it NOT VALID (RunSql), then VALIDATE "
        "CONSTRAINT in a later migration",
    )


def _family(sql_type: str) -> str:
    """The types whose values compare with each other (``backend._family``)."""
    from umbral_postgres.backend import _family as family

    return family(sql_type)


def _rewrites(old: Column, new: Column, sql_type: Any) -> bool:
    """Whether ALTER COLUMN TYPE rewrites the table (binary-coercible changes do not)."""
    before, after = sql_type(old), sql_type(new)
    if before == after:
        return False
    text_like = ("TEXT", "VARCHAR")
    if before.startswith(text_like) and after == "TEXT":
        return False  # varchar(n) -> text
    if before.startswith("VARCHAR") and after.startswith("VARCHAR"):
        return (new.max_length or 0) < (old.max_length or 0)  # widening only
    return True


def classify(operation: ops.Operation, backend: Any, context: Any) -> list[Finding]:
    """Every PostgreSQL finding for one operation, most important first."""
    op = operation
    if isinstance(op, ops.AddIndex):
        if op.concurrent or op.table in tables_created_before(context, op):
            return []
        return [_index_finding(backend, op.table, op.columns, op.unique)]
    if isinstance(op, ops.DropIndex):
        if op.concurrent:
            return []
        name = backend.index_name(op.table, op.columns, op.unique)
        return [
            Finding(
                W,
                TAG_DROP_INDEX,
                f"drops index `{name}` on `{op.table}({', '.join(op.columns)})` without "
                f"CONCURRENTLY: it takes an ACCESS EXCLUSIVE lock on `{op.table}` (reads "
                'queue behind it). Safe alternative: set "concurrent": true, in a migration '
                'with "atomic": false (DROP INDEX CONCURRENTLY)',
            )
        ]
    if isinstance(op, ops.AddColumn):
        if op.table in tables_created_before(context, op):
            return []
        return _add_column(op, backend)
    if isinstance(op, ops.AlterColumn):
        return _alter_column(op, backend)
    if isinstance(op, ops.RunSql):
        return _run_sql(op)
    return []


def _add_column(op: ops.AddColumn, backend: Any) -> list[Finding]:
    col = op.column
    out: list[Finding] = []
    if col.unique and not col.primary_key:
        out.append(_unique_finding(backend, op.table, col.name))
    if col.is_fk and col.db_constraint:
        out.append(_fk_finding(backend, op.table, col))
    if col.choices:
        out.append(_check_finding(backend, op.table, col))
    if (col.index or col.is_fk) and not col.unique and not col.primary_key:
        out.append(_index_finding(backend, op.table, (col.name,), False))
    return out


def _alter_column(op: ops.AlterColumn, backend: Any) -> list[Finding]:
    old, new = op.from_, op.to
    t, c = op.table, op.column
    out: list[Finding] = []
    if _rewrites(old, new, backend.sql_type):
        before, after = backend.sql_type(old), backend.sql_type(new)
        also = ""
        if old.primary_key and _family(before) != _family(after):
            # The foreign keys referencing the key go, their columns are retyped (those
            # tables rewritten too) and the keys come back, in the same transaction.
            also = (
                "; every column referencing it, in any table, is rewritten with it and its "
                "foreign key dropped and re-validated"
            )
        if integer_pk(old) and not integer_pk(new):
            also += (
                f"; `{c}` stops being an identity column, so code still running the old "
                "release that inserts rows without it fails"
            )
        out.append(
            Finding(
                W,
                TAG_REWRITE,
                f"changes the type of `{t}.{c}` from {before} to {after}: PostgreSQL rewrites "
                f"`{t}` and its indexes under an ACCESS EXCLUSIVE lock (reads and writes wait "
                f"for the whole rewrite){also}. "
                f"Expand-contract: add a new column of the new type, backfill it in batches, "
                f"switch reads, then drop `{c}`",
            )
        )
    if old.nullable and not new.nullable and not new.primary_key:
        fills = "it fails if NULLs remain"
        if op.backfill is not None:
            fills = "the backfill UPDATE of its NULL rows runs under that lock too"
        out.append(
            Finding(
                W,
                TAG_NOT_NULL,
                f"sets `{t}.{c}` NOT NULL: PostgreSQL scans all of `{t}` under an ACCESS "
                f"EXCLUSIVE lock, and {fills}. Safe alternative: ADD CONSTRAINT "
                f'... CHECK ("{c}" IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT in a later '
                "migration, then SET NOT NULL (no scan) and drop the check",
            )
        )
    if new.unique and not old.unique and not new.primary_key:
        out.append(_unique_finding(backend, t, c))
    fk_before = (old.fk_target, old.fk_column, old.on_delete, old.on_update)
    fk_after = (new.fk_target, new.fk_column, new.on_delete, new.on_update)
    new_fk = new.is_fk and new.db_constraint
    if new_fk and (not (old.is_fk and old.db_constraint) or fk_before != fk_after):
        out.append(_fk_finding(backend, t, new))
    if new.choices and new.choices != old.choices:
        out.append(_check_finding(backend, t, new))
    if new.nullable and not old.nullable and not old.primary_key:
        out.append(
            Finding(
                W,
                TAG_DROP_NOT_NULL,
                f"drops NOT NULL on `{t}.{c}`: code still running the old release may not "
                f"handle NULLs in `{c}`. Expand-contract: deploy code that handles NULL first, "
                "then relax the column",
            )
        )
    return out


_SQL_INDEX_RE = re.compile(r"\bCREATE\s+(?:UNIQUE\s+)?INDEX\b(?!\s+CONCURRENTLY)", re.I)
_SQL_TXN_RE = re.compile(r"^\s*(?:BEGIN|COMMIT|ROLLBACK|START\s+TRANSACTION)\b", re.I | re.M)


def _run_sql(op: ops.RunSql) -> list[Finding]:
    out: list[Finding] = []
    if _SQL_TXN_RE.search(op.sql):
        out.append(
            Finding(
                W,
                TAG_SQL_TXN,
                "hand-written SQL controls the transaction (BEGIN/COMMIT/ROLLBACK): it breaks "
                "the one-transaction-per-migration guarantee, so a failure can leave the schema "
                "changed but the migration unrecorded. Safe alternative: remove the transaction "
                'statements, or mark the migration "atomic": false and make every statement '
                "idempotent",
            )
        )
    if _SQL_INDEX_RE.search(op.sql):
        out.append(
            Finding(
                W,
                TAG_SQL_INDEX,
                "hand-written SQL builds an index without CONCURRENTLY: writes to the table "
                "block for the whole build. Safe alternative: CREATE INDEX CONCURRENTLY IF NOT "
                'EXISTS in a migration with "atomic": false',
            )
        )
    return out
