"""Drift states: tracking rows x files on disk (SPEC §9). Pure."""

from __future__ import annotations

from umbral import operations as ops
from umbral.drift import State, detect
from umbral.migration import Migration
from umbral.schema import EMPTY


def mig(key: str, sql: str = "SELECT 1", replaces: tuple[str, ...] = ()) -> Migration:
    plugin, mid = key.split("/")
    return Migration(plugin, mid, [ops.RunSql(sql=sql)], EMPTY, replaces=list(replaces))


def states(entries: list) -> list[tuple[str, str]]:
    return [(e.key, e.state.marker) for e in entries]


def test_all_five_states() -> None:
    on_disk = [
        mig("app/0001_a"),
        mig("app/0002_b"),  # out of order: 0004 is applied
        mig("app/0004_d"),
        mig("app/0005_e", sql="SELECT 'edited'"),
        mig("app/0006_f"),
    ]
    applied = {
        "app/0001_a": on_disk[0].checksum,
        "app/0003_c": "whatever",  # file gone
        "app/0004_d": on_disk[2].checksum,
        "app/0005_e": mig("app/0005_e").checksum,  # recorded before the edit
    }
    assert states(detect(on_disk, applied)) == [
        ("app/0001_a", "[X]"),
        ("app/0002_b", "[?]"),
        ("app/0003_c", "[!]"),
        ("app/0004_d", "[X]"),
        ("app/0005_e", "[~]"),
        ("app/0006_f", "[ ]"),
    ]


def test_entries_are_sorted_by_plugin_then_name_and_carry_their_file() -> None:
    a, b = mig("zeta/0001_a"), mig("alpha/0001_a")
    entries = detect([a, b], {"gone/0001_x": "c"})
    assert [e.key for e in entries] == ["alpha/0001_a", "gone/0001_x", "zeta/0001_a"]
    assert entries[0].migration is b
    # Rows of a plugin that is no longer installed are "applied but missing".
    assert (entries[1].state, entries[1].migration) == (State.MISSING, None)
    assert entries[1].state.label == "missing"


def test_nothing_recorded_means_everything_pending() -> None:
    entries = detect([mig("app/0001_a"), mig("app/0002_b")], {})
    assert {e.state for e in entries} == {State.PENDING}


def test_out_of_order_is_per_plugin() -> None:
    # blog's applied 0005 says nothing about auth's 0001.
    entries = detect([mig("auth/0001_a")], {"blog/0005_e": "x"})
    assert states(entries) == [("auth/0001_a", "[ ]"), ("blog/0005_e", "[!]")]


def test_squash_counts_as_applied_when_its_replaced_migrations_are() -> None:
    a, b = mig("app/0001_a"), mig("app/0002_b")
    squash = mig("app/0001_a_squashed_0002_b", replaces=("app/0001_a", "app/0002_b"))
    applied = {"app/0001_a": a.checksum, "app/0002_b": b.checksum}
    assert states(detect([a, b, squash], applied)) == [
        ("app/0001_a", "[X]"),
        ("app/0001_a_squashed_0002_b", "[X]"),
        ("app/0002_b", "[X]"),
    ]
    # A squash is never "out of order" because of its leading number.
    assert states(detect([squash], {"app/0002_b": "x"}))[0] == ("app/0001_a_squashed_0002_b", "[ ]")
