"""Helpers for the PostgreSQL backend tests: hand-written migration files, catalog reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from conftest import _libpq
from umbral import operations as ops
from umbral.migration import canonical_json


def write_migration(
    root: Path,
    mid: str,
    operations: list[ops.Operation | dict[str, Any]],
    *,
    plugin: str = "app",
    depends_on: list[str] | None = None,
    atomic: bool = True,
) -> Path:
    """Write ``migrations/<plugin>/<mid>.json``; depends on the previous file by default."""
    folder = root / "migrations" / plugin
    folder.mkdir(parents=True, exist_ok=True)
    if depends_on is None:
        earlier = sorted(p.stem for p in folder.glob("*.json") if p.stem < mid)
        depends_on = [f"{plugin}/{earlier[-1]}"] if earlier else []
    data: dict[str, Any] = {
        "umbral": 1,
        "id": mid,
        "plugin": plugin,
        "depends_on": depends_on,
        "operations": [op if isinstance(op, dict) else op.to_dict() for op in operations],
        "snapshot_after": {"models": []},
    }
    if not atomic:
        data["atomic"] = False
    path = folder / f"{mid}.json"
    path.write_text(canonical_json(data))
    return path


def connect(url: str, **kwargs: Any) -> psycopg.Connection:
    return psycopg.connect(_libpq(url), **kwargs)


def query(url: str, sql: str, *params: Any) -> list[tuple]:
    with connect(url) as conn:
        return [tuple(r) for r in conn.execute(sql, params or None).fetchall()]


def columns(url: str, table: str) -> dict[str, tuple[str, bool, str | None]]:
    """``column -> (formatted type, nullable, default expression)`` from pg_attribute."""
    rows = query(
        url,
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, "
        "pg_get_expr(d.adbin, d.adrelid), a.attidentity "
        "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid "
        "AND d.adnum = a.attnum WHERE a.attrelid = %s::regclass AND a.attnum > 0 "
        "AND NOT a.attisdropped ORDER BY a.attnum",
        f'"{table}"',
    )
    return {
        name: (typ, nullable, "identity" if ident else default)
        for name, typ, nullable, default, ident in rows
    }


def constraints(url: str, table: str) -> dict[str, str]:
    """``constraint name -> definition`` (pg_get_constraintdef)."""
    rows = query(
        url,
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass ORDER BY conname",
        f'"{table}"',
    )
    return dict(rows)


def indexes(url: str, table: str) -> dict[str, str]:
    """``index name -> definition``, with validity (``INVALID`` prefix) from pg_index."""
    rows = query(
        url,
        "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisvalid FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass "
        "ORDER BY c.relname",
        f'"{table}"',
    )
    return {name: (d if valid else "INVALID " + d) for name, d, valid in rows}


def comment(url: str, table: str, column: str) -> str | None:
    rows = query(
        url,
        "SELECT col_description(%s::regclass, a.attnum) FROM pg_attribute a "
        "WHERE a.attrelid = %s::regclass AND a.attname = %s",
        f'"{table}"',
        f'"{table}"',
        column,
    )
    return rows[0][0] if rows else None


def tables(url: str) -> list[str]:
    rows = query(
        url,
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    )
    return [r[0] for r in rows]


def recorded(url: str) -> list[tuple[str, str]]:
    if "umbral_migrations" not in tables(url):
        return []
    return query(url, "SELECT plugin, name FROM umbral_migrations ORDER BY plugin, name")


def load_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())
