"""The core names no database: dialect differences live in the backends (``umbral.backend``
hooks), so a new backend needs no change to ``core/umbral/``.

The rule: no identifier and no string literal of the core's code names a dialect or one of
its drivers or statements (``sqlite``, ``postgres``, ``mysql``, ``mariadb``, ``pragma``,
``psycopg``...), in any case. Comments and docstrings may (they explain, they do not branch).
What remains is user-facing text listed in ``ALLOWED`` with its reason; an entry no longer
found fails too, so the list only shrinks.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "core" / "umbral"
DIALECT = re.compile(r"sqlite|postgres|psycopg|mysql|mariadb|pragma|\bpg_", re.IGNORECASE)

#: ``(path under core/umbral, the token as written)``: user-facing text, or code being moved.
ALLOWED = {
    # `umbral init`'s default database and the CLI's help texts name the shipped backends.
    ("cli/authoring.py", '"sqlite:///db.sqlite3"'),
    ("cli/migratecmd.py", '"(PostgreSQL, MySQL; default 2, 0 = no limit)."'),
    ("cli/migratecmd.py", '"Seconds any statement may run (PostgreSQL, MySQL; default: no limit)."'),  # noqa: E501
    ("cli/migratecmd.py", '"Retries of a migration that hit the lock timeout (PostgreSQL, MySQL; default 5)."'),  # noqa: E501
    ("cli/authoring.py", '"[DATABASE_URL_OR_SQLITE_PATH]"'),
    ("cli/authoring.py", '"Database to read (a bare path is a SQLite file; default: the project\'s)."'),  # noqa: E501
    # Error messages: examples of URLs, and the distribution to install for a known scheme.
    ("config.py", '"sqlite:///db.sqlite3 or postgresql://user@host/dbname"'),
    ("config.py", '"; pip install umbral-postgres"'),
    ("config.py", '"postgres"'),
    # inspectdb's positional argument: a bare path is a SQLite file (documented).
    ("inspect/__init__.py", 'f"sqlite:///{(root / source).resolve()}"'),
}  # fmt: skip


def _docstring_lines(source: str) -> set[int]:
    import ast

    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                doc = body[0]
                lines.update(range(doc.lineno, (doc.end_lineno or doc.lineno) + 1))
        # An attribute's docstring (a string statement after an assignment) explains too.
        if isinstance(node, ast.Expr) and isinstance(getattr(node.value, "value", None), str):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def offenders() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path in sorted(CORE.rglob("*.py")):
        source = path.read_text()
        docs = _docstring_lines(source)
        rel = path.relative_to(CORE).as_posix()
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type not in (tokenize.NAME, tokenize.STRING) and tok.type != getattr(
                tokenize, "FSTRING_MIDDLE", -1
            ):
                continue
            if tok.type == tokenize.STRING and tok.start[0] in docs:
                continue
            if DIALECT.search(tok.string):
                found.add((rel, tok.string))
    return found


def test_the_core_names_no_dialect() -> None:
    unexpected = sorted(offenders() - ALLOWED)
    assert not unexpected, (
        "the core names a dialect (move the difference into a backend hook, "
        f"umbral.backend.Backend): {unexpected}"
    )


def test_the_allow_list_only_shrinks() -> None:
    stale = sorted(ALLOWED - offenders())
    assert not stale, f"no longer in the core, remove from ALLOWED: {stale}"
