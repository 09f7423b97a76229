"""``umbral.values``: ``@frozen`` and ``@record`` behave as ``dataclass(frozen=True)`` and
``dataclass()`` on every shape umbral's classes use, each class checked against its twin made
by ``dataclasses`` itself."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import FrozenInstanceError, field

import pytest

from umbral.values import frozen, record


def twins(make_std, make_ours):
    """The same class body under both decorators."""

    def body(decorate):
        @decorate
        class Base:
            """A base with every kind of field."""

            a: int
            b: str = "x"
            c: list = field(default_factory=list)
            d: int = field(default=0, kw_only=True)
            e: int = field(default=5, compare=False, repr=False)
            f: int = field(default=1, init=False)

        @decorate
        class Sub(Base):
            g: tuple = ()

            def __post_init__(self) -> None:
                object.__setattr__(self, "post", self.a * 2)

        return Base, Sub

    return body(make_std), body(make_ours)


CASES = [
    pytest.param(dataclasses.dataclass(frozen=True), frozen, id="frozen"),
    pytest.param(dataclasses.dataclass, record, id="record"),
]
CALLS = [
    ((1,), {}),
    ((1, "y", [2], 9), {"d": 4}),
    ((), {"a": 3, "c": [1], "e": 7}),
]


@pytest.mark.parametrize(("std", "ours"), CASES)
def test_instances_match_dataclasses(std, ours) -> None:
    (sbase, ssub), (obase, osub) = twins(std, ours)
    for s_cls, o_cls in ((sbase, obase), (ssub, osub)):
        for args, kwargs in CALLS:
            s, o = s_cls(*args, **kwargs), o_cls(*args, **kwargs)
            assert dataclasses.asdict(s) == dataclasses.asdict(o)
            assert repr(s).split("(", 1)[1] == repr(o).split("(", 1)[1]
            assert repr(o).startswith(f"{o_cls.__qualname__}(")
            assert o == o_cls(*args, **kwargs)
            assert (o == o_cls(99)) == (s == s_cls(99))
            assert o != s  # another class, as between two dataclasses
            assert dataclasses.asdict(dataclasses.replace(o, a=5)) == dataclasses.asdict(
                dataclasses.replace(s, a=5)
            )
        assert [f.name for f in dataclasses.fields(o_cls)] == [
            f.name for f in dataclasses.fields(s_cls)
        ]
        o_cls(1)  # the signature is compiled by the first instance
        assert str(inspect.signature(o_cls)) == str(inspect.signature(s_cls))
    assert osub(1).post == 2
    # A field with compare=False takes no part in equality.
    assert obase(1, e=1) == obase(1, e=2)
    # Default factories give each instance its own value.
    assert obase(1).c is not obase(1).c
    with pytest.raises(TypeError):
        obase()  # a required field missing, as dataclasses says


def test_frozen_refuses_assignment_and_hashes() -> None:
    _, (obase, osub) = twins(dataclasses.dataclass(frozen=True), frozen)
    o = osub(1, c=())
    with pytest.raises(FrozenInstanceError):
        o.a = 2
    with pytest.raises(FrozenInstanceError):
        del o.b
    with pytest.raises(FrozenInstanceError):
        o.other = 1
    assert hash(o) == hash(osub(1, c=(), e=99))  # e has compare=False: not hashed
    assert {osub(1, c=()), osub(1, c=())} == {o}
    assert obase.__dataclass_params__.frozen


def test_record_is_mutable_and_unhashable() -> None:
    _, (obase, _) = twins(dataclasses.dataclass, record)
    o = obase(1)
    o.a = 2
    assert o == obase(2)
    with pytest.raises(TypeError):
        hash(o)


def test_a_plain_dataclass_may_subclass_a_frozen_one() -> None:
    @frozen
    class Base:
        a: int

    @dataclasses.dataclass(frozen=True)
    class Plain(Base):
        b: int = 2

    @frozen
    class Ours(Plain):
        c: int = 3

    assert Plain(1) == Plain(1) and Plain(1).b == 2
    assert Ours(1) == Ours(1, 2, 3) and repr(Ours(1)).endswith("Ours(a=1, b=2, c=3)")
    with pytest.raises(FrozenInstanceError):
        Ours(1).c = 4


def test_a_class_body_keeps_its_own_methods() -> None:
    @frozen
    class Custom:
        a: int

        def __eq__(self, other: object) -> bool:
            return True

        def __repr__(self) -> str:
            return "custom"

    assert Custom(1) == Custom(2) and repr(Custom(1)) == "custom"
    # As dataclass(frozen=True): a body that defines __eq__ alone still gets the fields' hash.
    assert hash(Custom(1)) == hash((1,))


def test_a_mutable_class_over_a_frozen_one_is_refused() -> None:
    @frozen
    class Base:
        a: int

    with pytest.raises(TypeError, match="non-frozen"):

        @record
        class Sub(Base):
            b: int = 0


@pytest.mark.parametrize("decorate", [frozen, record])
def test_an_undocumented_class_costs_no_signature(decorate, monkeypatch) -> None:
    """dataclass writes a missing docstring from ``inspect.signature`` (a few ms the first
    time, tokenizing included); the decorators define such a class without it, and leave it
    undocumented."""

    def refuse(*args, **kwargs):
        raise AssertionError("inspect.signature was called")

    monkeypatch.setattr(inspect, "signature", refuse)

    @decorate
    class Plain:
        x: int = 1

    assert Plain.__doc__ is None
    assert Plain(2).x == 2
