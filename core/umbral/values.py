"""``@frozen`` and ``@record``: dataclasses that cost less to define.

``dataclass`` compiles up to six functions for every class (``__init__``, ``__repr__``,
``__eq__``, ``__hash__``, and for a frozen one ``__setattr__`` and ``__delattr__``), ~0.1 ms
each here, and a command that runs one small migration defines some seventy dataclasses. These
two decorators let ``dataclass`` collect the fields and compile nothing up front: the frozen
guards are closures, equality, hash and repr are functions shared by every class, and
``__init__`` is compiled when the class gets its first instance (most classes a command
imports never get one).

``@frozen`` behaves as ``dataclass(frozen=True)`` and ``@record`` as ``dataclass()``:
positional and keyword-only parameters with defaults and default factories,
``__post_init__``, equality between instances of the same class over the fields with
``compare=True``, ``Name(field=value, ...)`` over the fields with ``repr=True``; a frozen
class refuses assignment (``FrozenInstanceError``) and hashes the fields that would be hashed,
a record is unhashable. ``dataclasses.fields``/``replace``/``asdict`` work on both, and a plain
dataclass may subclass them. (``InitVar`` fields are not supported.)
"""

from __future__ import annotations

from dataclasses import MISSING, FrozenInstanceError, dataclass, field, fields
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T")


class _Factory:
    """The default of a parameter whose field has a ``default_factory``."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def frozen(cls: type[T]) -> type[T]:
    """Make ``cls`` a frozen dataclass (see the module docstring)."""
    return _make(cls, frozen=True)


@dataclass_transform(field_specifiers=(field,))
def record(cls: type[T]) -> type[T]:
    """Make ``cls`` a dataclass (see the module docstring)."""
    return _make(cls, frozen=False)


def _make(cls: type[T], frozen: bool) -> type[T]:
    own = vars(cls)
    bases = [b for b in cls.__mro__[1:] if "__dataclass_fields__" in vars(b)]
    if any("__values_repr__" not in vars(b) for b in bases):
        return dataclass(frozen=frozen)(cls)  # a plain dataclass base: let dataclass check it
    documented = own.get("__doc__") is not None
    if not documented:
        cls.__doc__ = " "  # an empty one would make dataclass compute the signature for it
    # dataclass refuses a class that is not frozen over a frozen base: this one is told it is
    # not, and is made frozen below.
    flipped = [b for b in bases if b.__dataclass_params__.frozen]  # type: ignore[attr-defined]
    if flipped and not frozen:
        raise TypeError("cannot inherit non-frozen dataclass from a frozen one")
    for b in flipped:
        b.__dataclass_params__.frozen = False  # type: ignore[attr-defined]
    try:
        cls = dataclass(init=False, repr=False, eq=False)(cls)
    finally:
        for b in flipped:
            b.__dataclass_params__.frozen = True  # type: ignore[attr-defined]
    cls.__dataclass_params__.frozen = frozen  # type: ignore[attr-defined]
    if not documented:
        cls.__doc__ = None
    flds = fields(cls)  # type: ignore[arg-type]
    _install(cls, flds, frozen)
    cls.__values_compare__ = _getter([f.name for f in flds if f.compare])  # type: ignore[attr-defined]
    cls.__values_hash__ = _getter(  # type: ignore[attr-defined]
        [f.name for f in flds if (f.compare if f.hash is None else f.hash)]
    )
    cls.__values_repr__ = tuple(f.name for f in flds if f.repr)  # type: ignore[attr-defined]
    # As dataclass decides: a hash unless the class body wrote one (defining only __eq__
    # does not count), and none for a mutable class.
    explicit_hash = "__hash__" in own and not (own["__hash__"] is None and "__eq__" in own)
    if "__repr__" not in own:
        cls.__repr__ = _repr  # type: ignore[assignment]
    if "__eq__" not in own:
        cls.__eq__ = _eq  # type: ignore[assignment]
    if not explicit_hash:
        cls.__hash__ = _hash if frozen else None  # type: ignore[assignment]
    return cls


def _install(cls: type, flds: tuple[Any, ...], frozen: bool) -> None:
    names = tuple(f.name for f in flds)

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        # Compiled on the first instance: most classes a command imports never get one.
        init = _compile_init(cls, flds, frozen)
        cls.__init__ = init  # type: ignore[misc]
        init(self, *args, **kwargs)

    for fn in (__setattr__, __delattr__, __init__) if frozen else (__init__,):
        fn.__qualname__ = f"{cls.__qualname__}.{fn.__name__}"
        setattr(cls, fn.__name__, fn)


def _compile_init(cls: type, flds: tuple[Any, ...], frozen: bool) -> Any:
    """``__init__`` as ``dataclass`` writes it."""
    ns: dict[str, Any] = {"_object": object, "_FACTORY": _FACTORY}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for f in flds:
        name = f.name
        value = name
        if f.default is not MISSING:
            ns[f"_d_{name}"] = f.default
            default = f"_d_{name}"
        elif f.default_factory is not MISSING:
            ns[f"_f_{name}"] = f.default_factory
            default = "_FACTORY"
            value = f"_f_{name}() if {name} is _FACTORY else {name}"
        else:
            default = ""
        if not f.init:
            value = default if default != "_FACTORY" else f"_f_{name}()"
        else:
            param = f"{name}={default}" if default else name
            (keyword if f.kw_only else positional).append(param)
        if frozen:
            body.append(f"    _object.__setattr__(self, {name!r}, {value})")
        else:
            body.append(f"    self.{name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    params = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    source = "\n".join([f"def __init__({params}):", *(body or ["    pass"])])
    exec(source, ns)  # built above from the class's field names only
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__annotations__ = {f.name: f.type for f in flds if f.init} | {"return": None}
    return init


def _getter(names: list[str]) -> Any:
    # attrgetter returns a bare value for one name; a tuple keeps every key the same shape.
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        get = attrgetter(names[0])
        return lambda obj: (get(obj),)
    return attrgetter(*names)


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        key = self.__class__.__values_compare__
        return key(self) == key(other)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(self.__class__.__values_hash__(self))


def _repr(self: Any) -> str:
    parts = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__class__.__values_repr__)
    return f"{self.__class__.__qualname__}({parts})"
