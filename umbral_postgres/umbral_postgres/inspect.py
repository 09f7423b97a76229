"""What SQLAlchemy's PostgreSQL reflection loses, read back for inspectdb."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from umbral.inspect.reader import RawTable


def fixup(conn: Connection, table: RawTable) -> None:
    """Declared types as Postgres spells them: the inspector turns unknown ones into NullType."""
    from sqlalchemy import text

    rows = conn.execute(
        text(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relname = :t AND a.attnum > 0 "
            "AND NOT a.attisdropped"
        ),
        {"t": table.name},
    ).fetchall()
    declared = dict(rows)  # type: ignore[arg-type]
    for col in table.columns:
        col.type = declared.get(col.name, col.type)
    # Triggers made by hand or by another tool, from pg_trigger (information_schema.triggers
    # shows only those of tables the user may change); the internal ones are a foreign key's.
    triggers = conn.execute(
        text(
            "SELECT t.tgname, t.tgtype FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal "
            "AND n.nspname = current_schema() AND c.relname = :t ORDER BY t.tgname"
        ),
        {"t": table.name},
    ).fetchall()
    table.triggers = [f"{name} ({_when(int(kind))})" for name, kind in triggers]


def _when(tgtype: int) -> str:
    """``BEFORE INSERT OR UPDATE`` from ``pg_trigger.tgtype``'s bits."""
    timing = "INSTEAD OF" if tgtype & 64 else "BEFORE" if tgtype & 2 else "AFTER"
    events = [e for bit, e in ((4, "INSERT"), (16, "UPDATE"), (8, "DELETE"), (32, "TRUNCATE"))
              if tgtype & bit]  # fmt: skip
    return f"{timing} {' OR '.join(events)}"
