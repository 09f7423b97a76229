"""``migrate --fake-initial``: record a plugin's first migration when its tables already exist.

The tables are read through the schema reader ``inspectdb`` and ``checkschema`` use
(``umbral.inspect.reader``), which knows how each dialect declares a type; the comparison is
loose on types (a family of names per umbral type, since the names vary by dialect) and strict
on columns and NULL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from umbral.errors import Refused
from umbral.migration import Migration
from umbral.operations import CreateTable
from umbral.schema import Column

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from umbral.inspect.reader import RawColumn


def initial_to_fake(
    conn: Connection, firsts: Iterable[Migration], applied: Mapping[str, str]
) -> list[str]:
    """Of each plugin's first migration (``firsts``), the ones whose tables all exist and
    match (read only); refused, naming every difference, when some exist but differ."""
    from sqlalchemy import inspect

    existing = set(inspect(conn).get_table_names())
    faked: list[str] = []
    problems: list[str] = []
    for first in firsts:
        if first.key in applied:
            continue
        creates = [op for op in first.operations if isinstance(op, CreateTable)]
        if not creates or not all(op.table in existing for op in creates):
            continue
        diffs = [d for op in creates for d in _differences(conn, first, op)]
        if diffs:
            problems.append(
                f"{first.key}: tables exist but differ from the migration:\n    "
                + "\n    ".join(diffs)
            )
        else:
            faked.append(first.key)
    if problems:
        err = Refused(
            "umbral migrate --fake-initial: existing tables do not match the initial "
            "migration; nothing was recorded"
        )
        err.details = tuple(problems)
        raise err
    # The reader's reads opened a transaction; end it so the records get their own.
    conn.rollback()
    return faked


def _differences(conn: Connection, first: Migration, op: CreateTable) -> list[str]:
    from umbral.inspect.reader import read_table

    cols = {c.name: c for c in read_table(conn, op.table).columns}
    diffs: list[str] = []
    for col in op.columns:
        found = cols.pop(col.name, None)
        if found is None:
            diffs.append(f"{op.table}.{col.name}: missing in the database")
            continue
        diffs += _column_differences(op.table, col, found)
    for extra in cols:
        diffs.append(f"{op.table}.{extra}: in the database but not in {first.key}")
    return diffs


def _column_differences(table: str, col: Column, found: RawColumn) -> list[str]:
    diffs = []
    if not col.primary_key and found.nullable != col.nullable:
        want = "NULL" if col.nullable else "NOT NULL"
        diffs.append(f"{table}.{col.name}: database column is not {want}")
    if not _compatible(col, found.type):
        diffs.append(
            f"{table}.{col.name}: database type {found.type} does not match {col.storage_type}"
        )
    return diffs


_TYPE_FAMILIES = {
    "SmallInt": "int", "Integer": "int", "BigInt": "int", "Real": "float", "Double": "float",
    "Decimal": "num", "Boolean": "bool", "Text": "str", "Date": "date", "Time": "time",
    "Timestamp": "ts", "Timestamptz": "ts", "Uuid": "uuid", "Json": "json", "Bytes": "bytes",
}  # fmt: skip
_FAMILY_NAMES = {
    "int": ("INT",),
    "float": ("REAL", "FLOAT", "DOUBLE"),
    "num": ("NUMERIC", "DECIMAL"),
    "bool": ("BOOL",),
    "str": ("TEXT", "CHAR", "CLOB", "STRING"),
    "date": ("DATE",),
    "time": ("TIME",),
    "ts": ("TIMESTAMP", "DATETIME"),
    "uuid": ("UUID", "CHAR"),
    "json": ("JSON",),
    "bytes": ("BLOB", "BYTEA", "BINARY"),
}


def _compatible(col: Column, db_type: str) -> bool:
    """Loose type check: same family of types (names vary by dialect)."""
    name = str(db_type).upper()
    family = _TYPE_FAMILIES.get(col.storage_type, "")
    return any(k in name for k in _FAMILY_NAMES.get(family, ("",)))
