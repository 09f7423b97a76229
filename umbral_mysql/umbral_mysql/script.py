"""Splitting a ``RunSql`` script into statements, as the MySQL client would.

A ``;`` ends a statement except inside a string (``'...'`` and ``"..."``, where a backslash
escapes the next character and a doubled quote is one quote), a backquoted name, a comment
(``-- `` with a space after it, ``#`` to the end of the line, ``/* ... */``), or the
``BEGIN ... END`` body of a ``CREATE TRIGGER`` / ``PROCEDURE`` / ``FUNCTION`` / ``EVENT``.
``DELIMITER`` is a client command, not SQL: scripts do not need it here.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>--(?=\s|\Z)[^\n]*|\#[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<quoted>'(?:[^'\\]|\\.|'')*(?:'|\Z)|"(?:[^"\\]|\\.|"")*(?:"|\Z)|`(?:[^`]|``)*(?:`|\Z))
  | (?P<word>[^\W\d][\w$]*)
  | (?P<end>;)
  | (?P<other>.)
    """,
    re.DOTALL | re.VERBOSE,
)
_BLOCK_OBJECTS = frozenset({"TRIGGER", "FUNCTION", "PROCEDURE", "EVENT"})
_OPENERS = frozenset({"BEGIN", "CASE", "IF", "LOOP", "WHILE", "REPEAT"})


def split_mysql_sql(sql: str) -> list[str]:
    """The statements of ``sql``, each without its ``;``; comment-only parts are left out."""
    out: list[str] = []
    start = pos = depth = 0
    words: list[str] = []
    previous = ""
    code = False
    while pos < len(sql):
        m = _TOKEN.match(sql, pos)
        assert m is not None  # `other` matches any character
        kind, pos = m.lastgroup, m.end()
        if kind == "end" and depth == 0:
            if code:
                out.append(sql[start : m.start()].strip())
            start, words, code, previous = pos, [], False, ""
            continue
        if kind in ("space", "comment"):
            continue
        code = True
        if kind == "word":
            word = m.group().upper()
            if len(words) < 6:
                words.append(word)
            if words[0] == "CREATE" and _BLOCK_OBJECTS.intersection(words):
                # `END IF`, `END LOOP`...: the word after END is not an opener.
                opens = word == "BEGIN" or (depth and word in _OPENERS)
                # IF(a, b, c) and REPEAT(s, n) are functions, not blocks.
                function = sql[pos:].lstrip().startswith("(")
                if opens and previous != "END" and not function:
                    depth += 1
                elif word == "END" and depth:
                    depth -= 1
            previous = word
        else:
            previous = ""
    if code:
        out.append(sql[start:].strip())
    return out


#: First words of the statements the server commits around on its own (the "statements that
#: cause an implicit commit" of the MySQL and MariaDB manuals), schema changes above all.
_COMMITTING = frozenset({
    "CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE", "GRANT", "REVOKE", "ANALYZE", "OPTIMIZE",
    "REPAIR", "CHECK", "LOCK", "UNLOCK", "INSTALL", "UNINSTALL", "FLUSH", "RESET", "CACHE",
})  # fmt: skip


def commits_on_its_own(statement: str) -> bool:
    """Whether the server commits before and after ``statement``: a migration holding one
    cannot be rolled back as a whole."""
    for m in _TOKEN.finditer(statement):
        kind = m.lastgroup
        if kind in ("space", "comment"):
            continue
        return kind == "word" and m.group().upper() in _COMMITTING
    return False


def fits_a_script(statement: str) -> bool:
    """Whether ``statement`` can be sent among others in one multi-statement query and gives
    exactly one result there: not a ``CALL`` (a procedure may return several), and no comment
    left open that would swallow the statements after it."""
    head = statement.lstrip()
    if head[:1] in ("-", "#", "/") or "/*" in statement:  # else no tokenizing: it is slow
        tokens = [m for m in _TOKEN.finditer(statement) if m.lastgroup != "space"]
        for m in tokens:
            text = m.group()
            if m.lastgroup == "comment" and text.startswith("/*") and not _closed(text):
                return False
        words = [m.group() for m in tokens if m.lastgroup != "comment"]
        head = words[0] if words else ""
    return _CALL.match(head) is None


_CALL = re.compile(r"call\b", re.IGNORECASE)


def _closed(comment: str) -> bool:
    return len(comment) >= 4 and comment.endswith("*/")
