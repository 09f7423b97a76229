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
