"""Splitting a ``RunSql`` script into the statements it holds.

A ``;`` ends a statement except inside a string (PostgreSQL's ``E'...'`` with backslash
escapes included), a quoted identifier, a comment, a PostgreSQL dollar-quoted body
(``$$ ... $$``, ``$fn$ ... $fn$``), or the ``BEGIN ... END`` block of a
``CREATE TRIGGER`` (SQLite) or of a ``CREATE FUNCTION`` / ``PROCEDURE`` body (``BEGIN ATOMIC``),
where it ends a statement of the body. Inside such a block ``CASE ... END`` nests.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<escaped>[eE]'(?:[^'\\]|\\.|'')*(?:'|\Z))
  | (?P<quoted>'(?:[^']|'')*(?:'|\Z)|"(?:[^"]|"")*(?:"|\Z)|`[^`]*(?:`|\Z))
  | (?P<dollar>\$(?:[^\W\d]\w*)?\$)
  | (?P<word>[^\W\d][\w$]*)
  | (?P<end>;)
  | (?P<other>.)
    """,
    re.DOTALL | re.VERBOSE,
)
#: A word at the very start of a statement, as ``_TOKEN`` reads it there (``E'...'`` is a string).
_LEADING_WORD = re.compile(r"(?![eE]')[^\W\d][\w$]*")
#: Statements whose body may hold ``;`` between BEGIN and END.
_BLOCK_OBJECTS = frozenset({"TRIGGER", "FUNCTION", "PROCEDURE"})


def split_sql(sql: str) -> list[str]:
    """The statements of ``sql``, each without its ``;``; comment-only parts are left out."""
    out: list[str] = []
    start = pos = depth = 0
    words: list[str] = []  # the first words of the current statement, upper-cased
    code = False  # whether the current statement has anything but comments
    n = len(sql)
    while pos < n:
        m = _TOKEN.match(sql, pos)
        assert m is not None  # `other` matches any character
        kind, pos = m.lastgroup, m.end()
        if kind == "end" and depth == 0:
            if code:
                out.append(sql[start : m.start()].strip())
            start, words, code = pos, [], False
            continue
        if kind in ("space", "comment"):
            continue
        code = True
        if kind == "dollar":
            close = sql.find(m.group(), pos)
            pos = n if close == -1 else close + len(m.group())
        elif kind == "word":
            word = m.group().upper()
            if len(words) < 6:
                words.append(word)
            if words[0] == "CREATE" and _BLOCK_OBJECTS.intersection(words):
                if word in ("BEGIN", "CASE"):
                    depth += 1
                elif word == "END" and depth:
                    depth -= 1
    if code:
        out.append(sql[start:].strip())
    return out


#: First words of a statement that begins, ends or divides a transaction (standard SQL and
#: its common spellings): inside a migration's transaction it would commit the migration's
#: first half, or its tracking row, on its own.
TRANSACTION_CONTROL = frozenset({
    "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE",
})  # fmt: skip


def leading_words(statement: str, count: int = 4) -> list[str]:
    """The first ``count`` words of a statement, upper-cased, after any comments; a
    parenthesis or other sign ends them (``CREATE UNIQUE INDEX CONCURRENTLY``)."""
    if count == 1:
        # Most statements start with their first word: one match instead of the token loop
        # (the executor asks this of every statement it runs).
        m = _LEADING_WORD.match(statement)
        if m is not None:
            return [m.group().upper()]
    words: list[str] = []
    pos, n = 0, len(statement)
    while pos < n and len(words) < count:
        m = _TOKEN.match(statement, pos)
        assert m is not None  # `other` matches any character
        kind, pos = m.lastgroup, m.end()
        if kind in ("space", "comment"):
            continue
        if kind != "word":
            break
        words.append(m.group().upper())
    return words


def transaction_control(statement: str) -> str | None:
    """The keyword when ``statement`` controls the transaction (``COMMIT``, ``BEGIN`` ...)."""
    words = leading_words(statement, 1)
    return words[0] if words and words[0] in TRANSACTION_CONTROL else None
