"""Splitting RunSql scripts into statements (``umbral.sqlscript``)."""

from __future__ import annotations

import pytest

from umbral.sqlscript import leading_words, split_sql

TRIGGER = (
    "CREATE TRIGGER item_audit AFTER UPDATE ON item WHEN (CASE WHEN new.id > 0 THEN 1 END) "
    "BEGIN INSERT INTO audit VALUES (CASE WHEN new.id > 0 THEN new.id ELSE 0 END); "
    "UPDATE counter SET n = n + 1; END"
)
PLPGSQL = (
    "CREATE OR REPLACE FUNCTION touch() RETURNS trigger AS $$ BEGIN NEW.seen := now(); "
    "RETURN NEW; END $$ LANGUAGE plpgsql"
)


@pytest.mark.parametrize(
    ("script", "statements"),
    [
        ("UPDATE a SET x = 1", ["UPDATE a SET x = 1"]),
        (
            "UPDATE a SET x = 1;\n\nUPDATE b SET y = 2;",
            ["UPDATE a SET x = 1", "UPDATE b SET y = 2"],
        ),
        # ; inside strings, quoted identifiers and comments
        (
            "UPDATE a SET x = 'it''s; fine'; DELETE FROM \"odd;name\" -- gone; really\n",
            ["UPDATE a SET x = 'it''s; fine'", 'DELETE FROM "odd;name" -- gone; really'],
        ),
        ("/* one; two */ SELECT 1;;  ;", ["/* one; two */ SELECT 1"]),
        # PostgreSQL escape strings: a backslash-escaped quote does not end them
        (
            "INSERT INTO t VALUES (E'it\\'s; \\\\'); SELECT e'a;b'; SELECT 'x\\'",
            ["INSERT INTO t VALUES (E'it\\'s; \\\\')", "SELECT e'a;b'", "SELECT 'x\\'"],
        ),
        # comment-only parts are not statements
        ("-- nothing to do\n", []),
        ("SELECT 1; -- done\n", ["SELECT 1"]),
        ("", []),
        # SQLite trigger bodies, CASE ... END nested inside
        (f"{TRIGGER}; SELECT 2", [TRIGGER, "SELECT 2"]),
        (
            f"create temp trigger t2 before delete on x begin select 1; end;{TRIGGER}",
            ["create temp trigger t2 before delete on x begin select 1; end", TRIGGER],
        ),
        # PostgreSQL dollar quoting, with or without a tag, and positional parameters
        (
            f"{PLPGSQL}; CREATE TRIGGER t BEFORE UPDATE ON item FOR EACH ROW EXECUTE FUNCTION "
            "touch()",
            [
                PLPGSQL,
                "CREATE TRIGGER t BEFORE UPDATE ON item FOR EACH ROW EXECUTE FUNCTION touch()",
            ],
        ),
        (
            "CREATE FUNCTION k() RETURNS text AS $body$ SELECT 'a;$$;' $body$ LANGUAGE sql; "
            "PREPARE q AS SELECT $1; SELECT 3",
            [
                "CREATE FUNCTION k() RETURNS text AS $body$ SELECT 'a;$$;' $body$ LANGUAGE sql",
                "PREPARE q AS SELECT $1",
                "SELECT 3",
            ],
        ),
        # SQL-standard function bodies
        (
            "CREATE FUNCTION one() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END; SELECT 4",
            [
                "CREATE FUNCTION one() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END",
                "SELECT 4",
            ],
        ),
        # CASE ... END outside a block does not change anything
        ("SELECT CASE WHEN 1 THEN 2 END; SELECT 5", ["SELECT CASE WHEN 1 THEN 2 END", "SELECT 5"]),
    ],
)
def test_split_sql(script: str, statements: list[str]) -> None:
    assert split_sql(script) == statements


@pytest.mark.parametrize(
    ("statement", "word"),
    [
        ("commit", ["COMMIT"]),
        ("  Begin;", ["BEGIN"]),
        ("-- note\nSAVEPOINT a", ["SAVEPOINT"]),
        ("/* x */ end", ["END"]),
        ("E'abc'", []),  # PostgreSQL's escaped string, not a word E
        ("Ex'abc'", ["EX"]),
        ("e", ["E"]),
        ("_x$1 y", ["_X$1"]),
        ("1abc", []),
        ("$$ body $$", []),
        ("(SELECT 1)", []),
        ("", []),
    ],
)
def test_the_first_word_of_a_statement(statement: str, word: list[str]) -> None:
    # One word is read by a single match; more words by the token loop: both read alike.
    assert leading_words(statement, 1) == word
    assert leading_words(statement, 2)[:1] == word
