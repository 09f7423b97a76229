"""Naming rules: table names from class names, index names (SPEC §2, §6)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any


def snake_case(name: str) -> str:
    """Convert a class name to snake_case with acronym handling.

    An underscore goes before an uppercase letter when the previous character is lowercase or a
    digit, or when the letter ends an uppercase run followed by a lowercase letter:
    ``BlogPost -> blog_post``, ``HTTPRequest -> http_request``, ``S3Upload -> s3_upload``.
    """
    out: list[str] = []
    for i, ch in enumerate(name):
        if ch.isupper() and i > 0:
            prev = name[i - 1]
            nxt = name[i + 1] if i + 1 < len(name) else ""
            if prev.islower() or prev.isdigit() or (prev.isupper() and nxt.islower()):
                out.append("_")
        out.append(ch.lower())
    return "".join(out)


def table_name(class_name: str, plugin: str | None) -> str:
    base = snake_case(class_name)
    if plugin and plugin != "app":
        return f"{plugin}_{base}"
    return base


def index_name(table: str, columns: Iterable[str], unique: bool) -> str:
    prefix = "uniq" if unique else "idx"
    return f"{prefix}_{table}_{'_'.join(columns)}"


def fit_identifier(name: str, limit: int | None, *, in_bytes: bool = True) -> str:
    """``name`` when the database keeps it whole (``limit`` bytes, or characters), else its
    start and ``_`` and 8 hex digits of its digest, ``limit`` long: two long names stay two
    (PostgreSQL cuts a longer name short, so two of them can become one; MySQL refuses it).
    Names within the limit never change (SPEC §6)."""
    size = len(name.encode()) if in_bytes else len(name)
    if limit is None or size <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    keep = limit - len(digest) - 1
    head = name.encode()[:keep].decode(errors="ignore") if in_bytes else name[:keep]
    return f"{head}_{digest}"


def given_names(op: Any) -> list[tuple[str, str, str]]:
    """The names an operation gives to tables, columns and views, as (what, where, name):
    the user's own names, which are not shortened as generated ones are (``fit_identifier``),
    and the compatibility view a ``--compat`` rename leaves (its table's name and ``_compat``,
    or the old table name)."""
    kind = op.kind
    out: list[tuple[str, str, str]] = []
    if kind == "CreateTable":
        out = [("table", op.table, op.table)]
        out += [("column", f"{op.table}.{c.name}", c.name) for c in op.columns]
    elif kind == "CreateM2MTable":
        out = [("junction table", op.table, op.table)]
    elif kind == "AddColumn":
        out = [("column", f"{op.table}.{op.column.name}", op.column.name)]
    elif kind == "RenameTable":
        out = [("table", op.to, op.to)]
    elif kind == "RenameColumn":
        out = [("column", f"{op.table}.{op.to}", op.to)]
    elif kind == "CreateView":
        out = [("view", op.name, op.name)]
    elif kind == "CreateCompatShim":
        out = [("compatibility view", op.name, op.name)]
    if getattr(op, "compat", False):
        shim = op.shim().name
        out.append(("compatibility view", shim, shim))
    return out


#: Where the user's models give each kind of name (``given_names``), for the messages that ask
#: for a shorter one.
WHERE_NAMED = {
    "table": "the model's table= (of a junction table: the ManyToMany field's name)",
    "junction table": "the model's table= or the ManyToMany field's name",
    "column": "the field's name or its column=",
    "view": "the model's table=",
    "compatibility view": "the model's table=, or make the rename without --compat",
}


def refused_names(backend: Any, op: Any) -> list[tuple[str, str, str]]:
    """The names of ``given_names(op)`` that ``backend``'s database refuses as too long
    (``Backend.LONG_NAMES_REFUSED``), as (what, where, size): "70 characters" or "70 bytes"."""
    if not getattr(backend, "LONG_NAMES_REFUSED", False):
        return []
    in_bytes = backend.IDENTIFIER_IN_BYTES
    unit = "bytes" if in_bytes else "characters"
    return [
        (what, where, f"{len(name.encode()) if in_bytes else len(name)} {unit}")
        for what, where, name in given_names(op)
        if backend.fit(name) != name
    ]


def junction_table(parent_table: str, field: str) -> str:
    return f"{parent_table}_{field}"
