"""What SQLAlchemy's MySQL reflection loses or spells its own way, read back for inspectdb.

Column types come from ``information_schema.COLUMNS.COLUMN_TYPE`` and are renamed to the
names the core's type map knows: ``tinyint(1)`` is a boolean, ``char(36)`` a UUID (as umbral
writes them), ``float`` the single-precision ``Real``, the ``*text`` / ``*blob`` family text and
bytes, and a MariaDB ``JSON`` column (a ``longtext`` with a ``json_valid`` check) JSON again.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from umbral.inspect.reader import RawIndex, RawTable

_RENAMES = {
    "tinyint(1)": "boolean",
    "char(36)": "uuid",
    "float": "real",
    # TIMESTAMP is stored in UTC and converted to the session's time zone: Timestamptz.
    **dict.fromkeys(("timestamp", "timestamp(6)"), "timestamptz"),
    **dict.fromkeys(("tinytext", "text", "mediumtext", "longtext"), "text"),
    **dict.fromkeys(("tinyblob", "blob", "mediumblob", "longblob"), "blob"),
}
#: MySQL's backslash escapes in a string literal (any other escaped character is itself).
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "Z": "\x1a"}
_DECIMAL = re.compile(r"-?\d+\.\d+")
#: ``EXTRA``'s ``on update current_timestamp()`` (MariaDB) or ``DEFAULT_GENERATED on update
#: CURRENT_TIMESTAMP`` (MySQL).
_ON_UPDATE = re.compile(r"\bon update (\S+)", re.IGNORECASE)
#: The ``ON UPDATE …`` a reflected default may end with.
_ON_UPDATE_TAIL = re.compile(r"\s*\bon update \S+\s*$", re.IGNORECASE)
_JSON_CHECK = re.compile(r"^\s*json_valid\(\s*`?([^`)]+)`?\s*\)\s*$", re.IGNORECASE)


def declared(column_type: str) -> str:
    text = column_type.strip().lower()
    text = (
        re.sub(r"^(tinyint|smallint|mediumint|int|bigint)\(\d+\)", r"\1", text)
        if not text.startswith("tinyint(1)")
        else text
    )
    return _RENAMES.get(text, text)


def fixup(conn: Connection, table: RawTable) -> None:
    rows = conn.exec_driver_sql(
        "SELECT COLUMN_NAME, COLUMN_TYPE, COLUMN_DEFAULT, EXTRA FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
        (table.name,),
    ).fetchall()
    types = {str(name): declared(str(kind)) for name, kind, _default, _extra in rows}
    # SQLAlchemy's parser of SHOW CREATE TABLE loses a string default holding an escaped
    # quote ('it\'s'); MariaDB's catalog has it, quoted.
    quoted = {str(n): str(d) for n, _k, d, _e in rows if d is not None and str(d).startswith("'")}
    on_update = {str(n): m[1] for n, _k, _d, e in rows if (m := _ON_UPDATE.search(str(e or "")))}
    json_columns = set()
    kept = []
    # MariaDB's CHECKs written on a column (SQLAlchemy reads table constraints only): a JSON
    # column's says the column is JSON, the others are said as a table's are.
    for check in [*_column_checks(conn, table.name), *table.checks]:
        m = _JSON_CHECK.match(check)
        if m:
            json_columns.add(m.group(1))
        else:
            kept.append(check)
    table.checks = kept
    # A key cannot be LONGTEXT, so umbral writes a text key without max_length (and a
    # reference to one) as VARCHAR(255): such a key reads back as that text, as it renders.
    keys = set(table.pk) | {c for fk in table.fks for c in fk.columns}
    for col in table.columns:
        col.type = "json" if col.name in json_columns else types.get(col.name, col.type)
        if col.name in keys and col.type == "varchar(255)":
            col.type = "text"
        col.on_update = on_update.get(col.name)
        if col.default is not None and col.on_update is not None:
            # SQLAlchemy reads MariaDB's `DEFAULT current_timestamp() ON UPDATE
            # current_timestamp()` as one default: the ON UPDATE is its own fact (above).
            col.default = _ON_UPDATE_TAIL.sub("", col.default) or None
        if col.default is None and col.name in quoted:
            col.default = quoted[col.name]
        if col.default is not None:
            col.default = _default(col.default)
        if col.type == "decimal(65,30)" and col.default and _DECIMAL.fullmatch(col.default):
            # The server writes a decimal default at the column's scale: umbral's Decimal
            # (DECIMAL(65, 30)) with default 1.25 reads 1.250000000000000000000000000000.
            # Another scale is the table's own, and so is how its default is written.
            col.default = col.default.rstrip("0").rstrip(".")
    table.indexes = _indexes(conn, table)
    triggers = conn.exec_driver_sql(
        "SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION FROM information_schema.TRIGGERS "
        "WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = %s ORDER BY TRIGGER_NAME",
        (table.name,),
    ).fetchall()
    table.triggers = [f"{name} ({timing} {event})" for name, timing, event in triggers]


def _column_checks(conn: Connection, table: str) -> list[str]:
    """The CHECKs MariaDB writes on a column (a JSON column's ``json_valid``): SQLAlchemy
    reads only table constraints. MySQL's catalog has no TABLE_NAME there, nor such checks."""
    try:
        found = conn.exec_driver_sql(
            "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
            "WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = %s AND LEVEL = 'Column'",
            (table,),
        ).fetchall()
    except Exception:  # MySQL: no TABLE_NAME / LEVEL columns
        return []
    return [str(r[0]) for r in found]


def _indexes(conn: Connection, table: RawTable) -> list[RawIndex]:
    """The table's indexes once each, with their descending columns.

    A MySQL unique constraint is its index, and SQLAlchemy reports it as both; its MySQL
    reflection also drops a column's DESC, which MariaDB 10.8+ and MySQL 8 keep."""
    found = conn.exec_driver_sql(
        "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND COLLATION = 'D' "
        "ORDER BY SEQ_IN_INDEX",
        (table.name,),
    ).fetchall()
    descending: dict[str, list[str]] = {}
    for index, column in found:
        descending.setdefault(str(index), []).append(f"{column} DESC")
    seen: set[tuple[object, ...]] = set()
    out = []
    for ix in table.indexes:
        key = (ix.name, ix.columns, ix.unique)
        if ix.name is not None and key in seen:
            continue
        seen.add(key)
        if ix.name in descending and not ix.descending:
            ix = replace(ix, descending=tuple(descending[ix.name]))
        out.append(ix)
    return out


def _default(text: str) -> str | None:
    """``current_timestamp(6)`` as the core spells it; MariaDB's ``NULL`` is no default."""
    lowered = text.strip().lower()
    if lowered == "null":
        return None
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] == "'":
        # MariaDB writes a quote in a string default as \' : the core reads standard SQL ''.
        body = re.sub(
            r"\\(.)|''", lambda m: _ESCAPES.get(m[1], m[1]) if m[1] else "'", stripped[1:-1]
        )
        return "'" + body.replace("'", "''") + "'"
    if re.fullmatch(r"current_timestamp\(\d?\)|curdate\(\)|curtime\(\d?\)", lowered):
        head = lowered.split("(")[0]
        return {"curdate": "current_date", "curtime": "current_time"}.get(head, head)
    return text
