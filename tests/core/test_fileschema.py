"""The schema table of the file format agrees with the operations and columns it describes."""

from __future__ import annotations

from dataclasses import MISSING, fields

import pytest

from umbral import fileschema
from umbral.operations import OPERATIONS
from umbral.schema import _ALWAYS, Column


@pytest.mark.parametrize("kind", sorted(OPERATIONS))
def test_every_operation_kind_has_a_row_per_key(kind: str) -> None:
    keys = {fl.name.rstrip("_"): fl for fl in fields(OPERATIONS[kind])}
    table = {**fileschema.OPERATIONS[kind], **fileschema.COMMON}
    assert {k.rstrip("?") for k in table} == set(keys)
    for key, fl in keys.items():
        required = fl.default is MISSING and fl.default_factory is MISSING
        assert (key in table) is required, key  # optional keys end in "?"


def test_every_column_attribute_has_a_row() -> None:
    assert set(fileschema.COLUMN.keys) == {f.name for f in fields(Column)}
    assert set(fileschema.COLUMN.required) == set(_ALWAYS)


def test_the_kinds_are_the_operations() -> None:
    assert set(fileschema.OPERATIONS) == set(OPERATIONS)
