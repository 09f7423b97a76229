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
