"""``preflight.find``: which unique columns every existing row would get one value in, and
which operations find their table and column as the migration found them (pure, no database)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from umbral import operations as ops
from umbral import preflight
from umbral.preflight import FillsUnique, Found, InChoices, KeyHolds, Look, SameValue, find
from umbral.schema import Column


def _of(found: Found, kind: type[Look]) -> list[Look]:
    """The looks of one kind ``find`` found."""
    return [one for one in found.looks if isinstance(one, kind)]


CODE = Column("code", "Text", max_length=20, unique=True, default="x")
PLAIN = Column("code", "Text", max_length=20, default="x")
DROP_OLD = ops.DropColumn(table="post", column="old")


def test_a_unique_column_with_a_default_after_a_drop() -> None:
    found = find([DROP_OLD, ops.AddColumn(table="post", column=CODE)])
    assert _of(found, SameValue) == [SameValue(1, "AddColumn", "post", ("code",), "default", "x")]
    assert found.as_found == [0, 1]


@pytest.mark.parametrize(
    ("column", "backfill", "source"),
    [
        (Column("code", "Text", unique=True), "a", "backfill"),
        (Column("at", "Timestamp", unique=True, auto_now_add=True), None, "auto_now"),
    ],
)
def test_a_backfill_or_a_time_is_one_value_too(column: Column, backfill: str, source: str) -> None:
    [one] = _of(find([ops.AddColumn(table="post", column=column, backfill=backfill)]), SameValue)
    assert (one.source, one.value) == (source, backfill)


def test_no_value_or_a_primary_key_is_no_check() -> None:
    nullable = Column("code", "Text", nullable=True, unique=True)
    key = Column("code", "BigInt", primary_key=True, default=1)
    assert _of(find([ops.AddColumn(table="post", column=nullable)]), SameValue) == []
    assert _of(find([ops.AddColumn(table="post", column=key)]), SameValue) == []


def test_a_unique_index_over_columns_added_with_one_value() -> None:
    kind = Column("kind", "Integer", default=1)
    found = find(
        [
            ops.AddColumn(table="post", column=PLAIN),
            ops.AddColumn(table="post", column=kind),
            ops.AddIndex(table="post", columns=("code", "kind"), unique=True),
        ]
    )
    assert _of(found, SameValue) == [
        SameValue(2, "AddIndex", "post", ("code", "kind"), "default", "x", added_by=0)
    ]
    # Beside a column the table had, the rows that share its values collide.
    found = find(
        [
            ops.AddColumn(table="post", column=PLAIN),
            ops.AddIndex(table="post", columns=("n", "code"), unique=True),
        ]
    )
    assert _of(found, SameValue) == [
        SameValue(1, "AddIndex", "post", ("n", "code"), "default", "x", 0, existing=("n",))
    ]
    # Unless that column changed earlier in the migration: the index's own check looks then.
    found = find(
        [
            ops.AddColumn(table="post", column=PLAIN),
            ops.RenameColumn(table="post", from_="m", to="n"),
            ops.AddIndex(table="post", columns=("n", "code"), unique=True),
        ]
    )
    assert _of(found, SameValue) == []


@pytest.mark.parametrize(
    "before",
    [
        ops.RunSql(sql="DELETE FROM post"),
        ops.RenameTable(from_="old_post", to="post"),
        ops.DropTable(table="post"),
        ops.CreateTable(table="post", columns=(Column("id", "BigInt", primary_key=True),)),
    ],
)
def test_no_check_where_an_earlier_operation_may_change_the_rows(before: ops.Operation) -> None:
    found = find([before, ops.AddColumn(table="post", column=CODE)])
    assert _of(found, SameValue) == []
    assert 1 not in found.as_found


def test_a_column_changed_earlier_is_not_as_found() -> None:
    total = Column("total", "Integer", nullable=True)
    alter = ops.AlterColumn(table="line", column="total", from_=total, to=total)
    found = find(
        [
            ops.RenameColumn(table="line", from_="total", to="sum"),
            ops.AddColumn(table="line", column=total),
            alter,
            ops.AlterColumn(table="line", column="price", from_=total, to=total),
        ]
    )
    assert found.as_found == [0, 3]


def test_the_kept_form_round_trips() -> None:
    one = SameValue(2, "AddIndex", "post", ("code", "kind"), "default", "x", added_by=0)
    data = one.to_dict()
    assert SameValue.well_formed(data)
    assert SameValue.from_dict(data) == one
    assert not SameValue.well_formed({**data, "source": "guess"})


TEAM_KEY = Column("editor", "ForeignKey", fk_target="team", on_delete="cascade")
WRITER_KEY = Column("editor", "ForeignKey", fk_target="writer", on_delete="cascade")


def test_a_key_moved_to_another_table_looks_at_the_values() -> None:
    alter = ops.AlterColumn(table="post", column="editor", from_=TEAM_KEY, to=WRITER_KEY)
    assert _of(find([alter]), KeyHolds) == [
        KeyHolds(0, "AlterColumn", "post", "editor", "writer", "id", True)
    ]
    # Only the key's ON DELETE changes: the values held the key already.
    restrict = replace(TEAM_KEY, on_delete="restrict")
    alter = ops.AlterColumn(table="post", column="editor", from_=restrict, to=TEAM_KEY)
    assert _of(find([alter]), KeyHolds) == []


def test_a_fill_of_a_keys_nulls_looks_at_the_value() -> None:
    nullable = replace(TEAM_KEY, nullable=True, on_delete="restrict")
    alter = ops.AlterColumn(table="post", column="editor", from_=nullable, to=TEAM_KEY, backfill=99)
    assert _of(find([alter]), KeyHolds) == [
        KeyHolds(0, "AlterColumn", "post", "editor", "team", "id", False, 99, "backfill")
    ]


def test_no_key_check_where_an_earlier_operation_changes_the_target() -> None:
    alter = ops.AlterColumn(table="post", column="editor", from_=TEAM_KEY, to=WRITER_KEY)
    made = ops.CreateTable(table="writer", columns=(Column("id", "BigInt", primary_key=True),))
    assert _of(find([made, alter]), KeyHolds) == []
    assert _of(find([DROP_OLD, alter]), KeyHolds) != []


def test_the_kept_form_of_a_key_check_round_trips() -> None:
    one = KeyHolds(1, "AlterColumn", "post", "editor", "team", "id", True, "x", "default")
    data = one.to_dict()
    assert KeyHolds.well_formed(data)
    assert KeyHolds.from_dict(data) == one
    assert not KeyHolds.well_formed({**data, "source": "guess"})
    assert not KeyHolds.well_formed({**data, "fill": [1]})


def test_a_unique_column_made_not_null_looks_at_its_nulls() -> None:
    nullable = replace(CODE, nullable=True, default=None)
    alter = ops.AlterColumn(table="post", column="code", from_=nullable, to=CODE)
    assert _of(find([DROP_OLD, alter]), FillsUnique) == [
        FillsUnique(1, "AlterColumn", "post", "code", "default", "x", True)
    ]
    backfilled = ops.AlterColumn(
        table="post", column="code", from_=nullable, to=replace(CODE, default=None), backfill="z"
    )
    assert _of(find([backfilled]), FillsUnique) == [
        FillsUnique(0, "AlterColumn", "post", "code", "backfill", "z", True)
    ]
    # Cast in the same change: the NULLs are counted, the value is not compared.
    cast = ops.AlterColumn(
        table="post", column="code", from_=replace(nullable, type="Integer"), to=CODE
    )
    assert _of(find([cast]), FillsUnique)[0].compare is False
    # Not unique, already NOT NULL, or no value for the NULLs: nothing to look at.
    for before, after in (
        (replace(PLAIN, nullable=True), PLAIN),
        (CODE, replace(CODE, default="y")),
        (nullable, replace(CODE, nullable=True)),
    ):
        alter = ops.AlterColumn(table="post", column="code", from_=before, to=after)
        assert _of(find([alter]), FillsUnique) == []
    # The column renamed earlier in the migration: not as found, not looked at.
    renamed = ops.RenameColumn(table="post", from_="label", to="code")
    alter = ops.AlterColumn(table="post", column="code", from_=nullable, to=CODE)
    assert _of(find([renamed, alter]), FillsUnique) == []


def test_the_kept_form_of_a_fill_check_round_trips() -> None:
    one = FillsUnique(1, "AlterColumn", "post", "code", "default", "x", True)
    kept = preflight.kept(one)
    assert preflight.well_formed(kept)
    assert preflight.from_kept(kept) == one
    assert not preflight.well_formed({**kept, "source": "auto_now"})
    assert not preflight.well_formed({**kept, "compare": "yes"})


def test_choices_given_or_narrowed_look_at_the_values() -> None:
    status = Column("status", "Text", max_length=20, default="draft", choices=("draft", "live"))
    first = ops.AlterColumn(
        table="post", column="status", from_=replace(status, choices=None), to=status
    )
    assert _of(find([DROP_OLD, first]), InChoices) == [
        InChoices(1, "AlterColumn", "post", "status", ("draft", "live"))
    ]
    wider = replace(status, choices=("draft", "live", "gone"))
    narrowed = ops.AlterColumn(table="post", column="status", from_=wider, to=status)
    assert _of(find([narrowed]), InChoices) == [
        InChoices(0, "AlterColumn", "post", "status", ("draft", "live"))
    ]
    # Widened, taken away, or cast in the same change: nothing to look at.
    for before, after in (
        (status, wider),
        (status, replace(status, choices=None)),
        (replace(wider, type="Integer", max_length=None, default=None), status),
    ):
        alter = ops.AlterColumn(table="post", column="status", from_=before, to=after)
        assert _of(find([alter]), InChoices) == []
    one = InChoices(1, "AlterColumn", "post", "status", ("draft", "live"))
    kept = preflight.kept(one)
    assert preflight.well_formed(kept)
    assert preflight.from_kept(kept) == one
    assert not preflight.well_formed({**kept, "choices": []})
