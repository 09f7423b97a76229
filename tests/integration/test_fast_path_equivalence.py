"""Property: on an empty database, building the plan's end from the snapshots (the fast path)
gives the same schema and the same tracking rows as replaying every migration, on SQLite,
PostgreSQL and MySQL / MariaDB.

Histories come from the property test of ``test_property_histories`` (tables and columns
added, dropped, renamed, cast, re-indexed, foreign keys, defaults, renames leaving
compatibility shims); some get a ``RunSql`` migration at a chosen step, from which history
replays on the fast path too. The two databases are compared with their views.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from schema_dump import dump
from test_property_histories import (
    ADDED_THEN_CAST,
    SHIM_LIVE_AT_THE_END,
    SHIM_THEN_DROPPED,
    Db,
    History,
    make_app,
    make_migrations,
    mysql_databases,
    postgres_databases,
    step,
)

from conftest import rows

#: A history, and the step after which a RunSql migration is written (None: no RunSql).
CASES = st.tuples(
    st.lists(st.tuples(st.integers(0, 10), st.integers(0, 1000)), min_size=1, max_size=7),
    st.none() | st.integers(0, 6),
)
SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: index=True added (written as an AddIndex), then taken away by a change of the column's type
#: (one AlterColumn, which drops the index): the operations must end where the snapshot does.
INDEX_TAKEN_BY_ALTER = ([(0, 0), (8, 0), (7, 0)], None)
#: Every kind of change once, and a RunSql in the middle.
EVERYTHING = ([(0, 1), (0, 2), (9, 1), (3, 1), (5, 2), (2, 1), (7, 1), (8, 3), (4, 5)], 3)


def write_history(root: Path, history: list[tuple[int, int]], run_sql_at: int | None) -> History:
    """Write the migration files of ``history`` into ``root`` (no database is opened)."""
    h = History()
    for i, (action, pick) in enumerate(history):
        step(h, action, pick)
        unused = "sqlite:///unused.sqlite3"
        # A NOT NULL change without a default takes the step's one-off backfill, as in the
        # property test the histories come from (and its renames' shims).
        filled = dict(h.backfills.values())
        h.backfills.clear()
        make_migrations(root, h, unused, backfills=filled)
        if run_sql_at == i:
            app = make_app(root, h, unused)
            written = app.makemigrations(empty="app", name=f"sql{i}").migrations[0]
            assert written.path is not None
            data = json.loads(written.path.read_text())
            data["operations"] = [
                {"kind": "RunSql", "sql": f"CREATE TABLE extra{i} (x INTEGER)",
                 "reverse_sql": f"DROP TABLE extra{i}"}
            ]  # fmt: skip
            written.path.write_text(json.dumps(data, indent=2))
    return h


def tracking(url: str) -> list[tuple]:
    return sorted(rows(url, "SELECT plugin, name, checksum FROM umbral_migrations"))


def check(history: list[tuple[int, int]], run_sql_at: int | None, root: Path,
          urls: Callable[[], str], again: bool = False) -> None:  # fmt: skip
    """``again``: build both once more, from the SQL the first builds kept (``umbral.sqlcache``,
    SQLite's), and compare them too."""
    h = write_history(root, history, run_sql_at)
    fast_url, replay_url = urls(), urls()
    fast = make_app(root, h, fast_url).migrate(allow_destructive=True)
    assert fast.path.startswith(("fast path", "replay: the database is empty")), fast.path
    # Generated files agree with their snapshots: the check must not send them to a replay.
    assert "snapshot does not show" not in fast.path, fast.path
    shimmed = "keeps compatibility view" in fast.path  # a live shim: its plugin replays
    if run_sql_at is None and not shimmed:
        assert fast.path.startswith("fast path") and "then replay" not in fast.path, fast.path
    assert not fast.warnings, fast.warnings  # the fast path did not fall back to a replay
    if fast.path.startswith("fast path"):
        assert fast.fast is not None
    replay = make_app(root, h, replay_url).migrate(allow_destructive=True, replay=True)
    assert replay.fast is None and replay.path.startswith("replay: --replay")
    assert sorted(fast.applied) == sorted(replay.applied), history
    assert Db(fast_url).schema() == Db(replay_url).schema(), (history, run_sql_at)
    # Views included: a shim's view and its triggers.
    assert dump(fast_url) == dump(replay_url), (history, run_sql_at)
    assert tracking(fast_url) == tracking(replay_url)
    if again:
        for url, replaying in ((urls(), False), (urls(), True)):
            make_app(root, h, url).migrate(allow_destructive=True, replay=replaying)
            assert dump(url) == dump(fast_url), (history, run_sql_at, replaying)
            assert tracking(url) == tracking(fast_url)


@SETTINGS
@given(CASES)
@example(case=EVERYTHING)
@example(case=(ADDED_THEN_CAST, None))
@example(case=INDEX_TAKEN_BY_ALTER)
@example(case=(SHIM_THEN_DROPPED, None))
@example(case=(SHIM_LIVE_AT_THE_END, None))
def test_fast_path_builds_what_the_replay_builds(tmp_path_factory, case) -> None:
    history, run_sql_at = case
    root = tmp_path_factory.mktemp("fast")
    names = iter(range(4))
    url = lambda: f"sqlite:///{root / f'db{next(names)}.sqlite3'}"  # noqa: E731
    check(history, run_sql_at, root, url, again=True)


@pytest.mark.postgres
@SETTINGS
@given(CASES)
@example(case=EVERYTHING)
@example(case=(ADDED_THEN_CAST, None))
@example(case=INDEX_TAKEN_BY_ALTER)
@example(case=(SHIM_THEN_DROPPED, None))
@example(case=(SHIM_LIVE_AT_THE_END, None))
def test_fast_path_builds_what_the_replay_builds_on_postgres(
    tmp_path_factory, postgres_admin, case
) -> None:
    history, run_sql_at = case
    with postgres_databases(postgres_admin, "umbral_f") as database:
        check(history, run_sql_at, tmp_path_factory.mktemp("fast"), database)


@pytest.mark.mysql
@SETTINGS
@given(CASES)
@example(case=EVERYTHING)
@example(case=(ADDED_THEN_CAST, None))
@example(case=INDEX_TAKEN_BY_ALTER)
@example(case=(SHIM_THEN_DROPPED, None))
@example(case=(SHIM_LIVE_AT_THE_END, None))
def test_fast_path_builds_what_the_replay_builds_on_mysql(
    tmp_path_factory, mysql_admin, case
) -> None:
    history, run_sql_at = case
    with mysql_databases(mysql_admin, "umbral_f") as database:
        check(history, run_sql_at, tmp_path_factory.mktemp("fast"), database)
