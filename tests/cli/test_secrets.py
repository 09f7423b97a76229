"""A database password never appears in output, however it is written (SPEC §3).

Users paste passwords into URLs without percent-encoding them, so a password may hold any
character: `/`, `:`, `@`, `?`, `#`, `%`, spaces. Every message that names the URL masks the
password, and every message that repeats what the driver said about the URL (which may have
taken part of the password for the host name) is scrubbed of it.
"""

from __future__ import annotations

import string
from pathlib import Path

import pytest

from conftest import Project, run_umbral

#: Passwords as people write them, unencoded; the first three are the ones seen leaking.
PASSWORDS = [
    "hunter/2",
    "hunter2@prod",
    "s3cr:t/P@ss",
    "Pa ss?w#rd%zz:/x",
    "all" + string.punctuation + " end",
    "ünï©ødé€",
]
#: The closed port every URL points at: connecting fails at once with "connection refused".
UNREACHABLE = "127.0.0.1:1"


def _pieces(password: str) -> list[str]:
    """The parts of a password that must not appear either: itself, and what lies around
    each `@` (the driver reads the part after an `@` as the start of the host name)."""
    parts = {password, *password.split("@")}
    return [p for p in parts if len(p) >= 3]


def _assert_hidden(output: str, password: str) -> None:
    for piece in _pieces(password):
        assert piece not in output, f"{piece!r} of the password leaked:\n{output}"


@pytest.mark.parametrize("password", PASSWORDS)
def test_commands_never_print_a_password(project: Project, password: str) -> None:
    p = project
    url = f"postgresql://app:{password}@{UNREACHABLE}/db"
    runs = {
        "--database": p.run("migrate", "--database", url),
        "UMBRAL_DATABASE_URL": p.run("showmigrations", UMBRAL_DATABASE_URL=url),
    }
    p.write_config(database=url)
    runs["umbral.toml"] = p.run("checkmigrations")
    runs["inspectdb"] = p.run("inspectdb", url, "--output", "legacy")
    for where, r in runs.items():
        assert r.code == 1, (where, r)
        assert "Traceback" not in r.stderr, r
        assert len(r.err_lines) == 1, (where, r)
        assert "cannot connect to database postgresql" in r.stderr, (where, r)
        assert "://app:***@127.0.0.1:1/db: " in r.stderr, (where, r)
        _assert_hidden(r.stdout + r.stderr, password)


@pytest.mark.parametrize("password", PASSWORDS)
def test_a_url_without_a_scheme_hides_its_password(tmp_path: Path, password: str) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    p = Project(root, f"app:{password}@{UNREACHABLE}/db")
    p.write_config()
    p.models("")
    r = p.run("showmigrations")
    assert r.code == 1, r
    assert r.err_lines == [
        "error: database URL 'app:***@127.0.0.1:1/db' is not a URL; write e.g. "
        "sqlite:///db.sqlite3 or postgresql://user@host/dbname"
    ], r
    _assert_hidden(r.stderr, password)


@pytest.mark.postgres
@pytest.mark.parametrize("password", PASSWORDS)
def test_an_error_from_a_reachable_server_hides_the_password(
    tmp_path: Path, postgres_admin: object, password: str
) -> None:
    # The server answers (trust authentication) but the database does not exist; with an `@`
    # in the password the driver looks for a host named after the rest of it.
    url = f"postgresql://postgres:{password}@127.0.0.1:5432/umbral_no_such_db"
    r = run_umbral("inspectdb", url, "--output", "legacy", cwd=tmp_path)
    assert r.code == 1, r
    assert r.err_lines[0].startswith(
        "error: umbral inspectdb: cannot connect to database postgresql://postgres:***@"
    ), r
    _assert_hidden(r.stdout + r.stderr, password)


@pytest.mark.parametrize("char", [*string.punctuation, " ", "é"])
def test_every_character_class_is_masked(char: str) -> None:
    # One character of each class, between letters and at the end of the password, through
    # what every message above uses (the CLI runs above hold them all at once).
    from umbral.config import mask_url
    from umbral.database import scrub

    password = f"ab{char}cd{char}"
    url = f"postgresql://u:{password}@{UNREACHABLE}/db"
    assert mask_url(url) == f"postgresql://u:***@{UNREACHABLE}/db"
    # A driver's message may quote the password, or what follows its first `@` as the host.
    host = password.split("@", 1)[1] + f"@{UNREACHABLE}" if "@" in password else UNREACHABLE
    message = scrub(f"failed for '{password}' at host '{host}'", url)
    assert f"ab{char}cd" not in message, message
    assert f"cd{char}" not in message or char == "@", message
