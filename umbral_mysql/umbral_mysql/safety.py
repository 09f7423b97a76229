"""MySQL / MariaDB safety rules (SPEC §10): which algorithm an ALTER runs with, and what it locks.

Pure: classifies operations, touches no database (the server version is the one the backend
last connected to; without one the rules assume a current release: MySQL 8.0.29+ or MariaDB
10.6+). Every rule is a WARNING, as on PostgreSQL: locking and data-dependent failures, not lost
data. The three algorithms (MySQL and MariaDB both name them):

* ``INSTANT``: a change of metadata only, no lock beyond a brief metadata lock.
* ``INPLACE``: rebuilds an index or the table in place; concurrent reads and writes continue
  (``LOCK=NONE``) except at the start and end.
* ``COPY``: copies the table row by row; writes to it wait for the whole copy.
"""

from __future__ import annotations

import re
from typing import Any

from umbral import operations as ops
from umbral.safety import Finding, OpSafety, tables_created_before
from umbral.schema import Column

TAG_COPY = "MYSQL COPY ALTER"
TAG_REBUILD = "MYSQL TABLE REBUILD"
TAG_UNIQUE = "MYSQL UNIQUE INDEX"
TAG_CHARSET = "MYSQL CHARSET CHANGE"
TAG_FK = "MYSQL FOREIGN KEY CHECK"
TAG_TIMESTAMP_RANGE = "MYSQL TIMESTAMP RANGE"

W = OpSafety.WARNING


def _server(backend: Any) -> tuple[str, tuple[int, ...]]:
    return getattr(backend, "server", None) or ("mariadb", (10, 11, 0))


def instant_add_column(backend: Any) -> bool:
    """ADD COLUMN (anywhere) with ALGORITHM=INSTANT: MySQL 8.0.29+, MariaDB 10.3.2+ (last
    position) and 10.4+ (any position)."""
    kind, version = _server(backend)
    return version >= ((8, 0, 29) if kind == "mysql" else (10, 4))


def instant_drop_column(backend: Any) -> bool:
    """DROP COLUMN with ALGORITHM=INSTANT: MySQL 8.0.29+, MariaDB 10.4+."""
    kind, version = _server(backend)
    return version >= ((8, 0, 29) if kind == "mysql" else (10, 4))


def _text_family(sql_type: str) -> str | None:
    if sql_type.startswith("VARCHAR"):
        return "varchar"
    return "text" if sql_type in ("LONGTEXT", "TEXT", "MEDIUMTEXT") else None


def _algorithm_of_type_change(old: Column, new: Column, backend: Any) -> str:
    """INSTANT for VARCHAR widening within the same length-byte size; COPY otherwise."""
    before, after = backend.sql_type(old), backend.sql_type(new)
    if before == after:
        return "INSTANT"
    if _text_family(before) == _text_family(after) == "varchar":
        # utf8mb4: up to 63 characters use a 1-byte length, 64 and more a 2-byte one.
        small = (old.max_length or 0) <= 63
        widening = (new.max_length or 0) >= (old.max_length or 0)
        if widening and (small == ((new.max_length or 0) <= 63)):
            return "INPLACE"  # metadata only on both servers ("in place, no rebuild")
    return "COPY"


def _unique(table: str, cols: str) -> Finding:
    return Finding(
        W,
        TAG_UNIQUE,
        f"adds a unique index on `{table}` ({cols}): it is built INPLACE (writes continue), "
        "but it fails if existing rows have duplicates, and writes made during the build "
        "that would duplicate a value make the whole ALTER fail at its end. De-duplicate first "
        "and keep writers of those columns quiet during the build",
    )


def classify(operation: ops.Operation, backend: Any, context: Any) -> list[Finding]:
    """Every MySQL / MariaDB finding for one operation."""
    op = operation
    if getattr(op, "table", None) in tables_created_before(context, op):
        return []
    if isinstance(op, ops.AddIndex):
        return [_unique(op.table, ", ".join(op.columns))] if op.unique else []
    if isinstance(op, ops.AddColumn):
        return _add_column(op, backend)
    if isinstance(op, ops.DropColumn):
        if instant_drop_column(backend):
            return []
        return [
            Finding(
                W,
                TAG_REBUILD,
                f"drops `{op.table}.{op.column}`: this server rebuilds `{op.table}` (INPLACE: "
                "writes continue, but the rebuild reads and rewrites every row). On a large "
                "table run it in a quiet period, or use an online schema-change tool",
            )
        ]
    if isinstance(op, ops.AlterColumn):
        return _alter_column(op, backend)
    if isinstance(op, ops.RunSql) and _CHARSET_RE.search(op.sql):
        return [
            Finding(
                W,
                TAG_CHARSET,
                "hand-written SQL changes a character set or collation: the server copies the "
                "table (ALGORITHM=COPY: writes wait for the whole copy) and converts every "
                "value; a value the new character set cannot hold fails the statement (or is "
                "mangled without strict mode), and unique indexes may start to collide under "
                "the new collation. Check the data converts first, on a copy of the table",
            )
        ]
    return []


_CHARSET_RE = re.compile(r"\b(?:CHARACTER\s+SET|CHARSET|COLLATE|CONVERT\s+TO)\b", re.I)


def _add_column(op: ops.AddColumn, backend: Any) -> list[Finding]:
    col = op.column
    out: list[Finding] = []
    if col.unique and not col.primary_key:
        out.append(_unique(op.table, col.name))
    if col.is_fk and col.db_constraint:
        out.append(
            Finding(
                W,
                TAG_FK,
                f"adds foreign key on `{op.table}.{col.name}` -> `{col.fk_target}`: with "
                f"foreign_key_checks on, the server copies `{op.table}` (ALGORITHM=COPY: writes "
                "wait for the whole copy) to check existing rows. On a large table add the "
                "column first and the key in a later migration, or use an online tool",
            )
        )
    elif not instant_add_column(backend) or col.unique or col.index:
        out.append(
            Finding(
                W,
                TAG_REBUILD,
                f"adds `{op.table}.{col.name}`: not INSTANT on this server or with an index "
                f"(the table or the index is built INPLACE, reading every row of `{op.table}`); "
                "on a large table run it in a quiet period",
            )
        )
    return out


def _alter_column(op: ops.AlterColumn, backend: Any) -> list[Finding]:
    old, new = op.from_, op.to
    t, c = op.table, op.column
    out: list[Finding] = []
    algorithm = _algorithm_of_type_change(old, new, backend)
    before, after = backend.sql_type(old), backend.sql_type(new)
    if algorithm == "COPY" or (old.nullable != new.nullable and not new.primary_key):
        why = (
            f"changes the type of `{t}.{c}` from {before} to {after}"
            if algorithm == "COPY"
            else f"changes the nullability of `{t}.{c}`"
        )
        out.append(
            Finding(
                W,
                TAG_COPY if algorithm == "COPY" else TAG_REBUILD,
                f"{why}: the server "
                + (
                    "copies the whole table (ALGORITHM=COPY: writes wait for the whole copy)"
                    if algorithm == "COPY"
                    else "rebuilds the table (INPLACE: reads every row)"
                )
                + ". On a large table: expand-contract (add a new column, backfill it in "
                "batches, switch reads, drop the old one) or an online schema-change tool",
            )
        )
    if new.unique and not old.unique and not new.primary_key:
        out.append(_unique(t, c))
    if after.startswith("TIMESTAMP") and not before.startswith("TIMESTAMP"):
        out.append(
            Finding(
                W,
                TAG_TIMESTAMP_RANGE,
                f"changes `{t}.{c}` to {after}, which holds 1970-01-01 to 2038-01-19 (UTC) "
                "only: a value outside that range fails the change part way through the "
                "migration. Check the column's range first",
            )
        )
    return out
