"""The tracking-row INSERT written as one statement, for backends that send a migration as one
script (no bind parameters there)."""

from __future__ import annotations

import re

import pytest

from umbral import recorder


def test_record_sql_writes_plain_values_in() -> None:
    sql = recorder.record_sql("blog", "0001_initial", "ab12")
    assert sql is not None
    head = "INSERT INTO umbral_migrations (plugin, name, applied_at, checksum) VALUES "
    when = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"
    values = rf"\('blog', '0001_initial', '{when}', 'ab12'\)"
    assert re.fullmatch(re.escape(head) + values, sql), sql


@pytest.mark.parametrize("plugin", ["o'neil", "back\\slash", "naïve", "a b"])
def test_record_sql_leaves_values_that_need_quoting_to_bind_parameters(plugin: str) -> None:
    assert recorder.record_sql(plugin, "0001_x", "ab") is None


def test_progress_written_into_sql_is_the_row_save_writes() -> None:
    """A migration's statements sent as one script carry their progress as SQL text: the rows
    are the ones ``progress.save`` writes with parameters, and ``clear_sql`` deletes one."""
    import sqlalchemy

    from umbral import progress
    from umbral.backend import Backend

    P = progress.Progress
    engine = sqlalchemy.create_engine("sqlite://")
    with engine.begin() as conn:
        conn.exec_driver_sql(Backend().progress_table_sql(progress.TABLE))
        progress.save(conn, P("app/0002_a", "ab12", False, 1, 4), exists=False)
        progress.save(conn, P("app/0002_a", "ab12", False, 2, 4), exists=True)
        for sql in (
            progress.save_sql(P("app/0003_b", "cd34", True, 1, 3), exists=False),
            progress.save_sql(P("app/0003_b", "cd34", True, 2, 4), exists=True),
        ):
            assert sql is not None
            conn.exec_driver_sql(sql)
        assert progress.read(conn) == {
            "app/0002_a": P("app/0002_a", "ab12", False, 2, 4),
            "app/0003_b": P("app/0003_b", "cd34", True, 2, 4),
        }
        clear = progress.clear_sql("app/0003_b")
        assert clear is not None
        conn.exec_driver_sql(clear)
        assert list(progress.read(conn)) == ["app/0002_a"]
    assert progress.save_sql(P("o'neil/0001", "ab", False, 1, 2), exists=True) is None
    assert progress.clear_sql("app/0001 x") is None
