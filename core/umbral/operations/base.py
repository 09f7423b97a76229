"""The base of every operation: its dict form (``to_dict``/``from_dict``), the contract
each kind fills in, and the helpers the kinds share."""

from __future__ import annotations

from dataclasses import MISSING, field, fields, replace
from typing import Any, ClassVar

from umbral.errors import IrreversibleOperation
from umbral.schema import Column, ModelState
from umbral.values import frozen

State = dict[str, ModelState]

#: Every operation class by its ``kind`` (filled by ``umbral.operations``).
OPERATIONS: dict[str, type[Operation]] = {}


def _key(name: str) -> str:
    # `from` is a Python keyword; the JSON key is `from`.
    return name.rstrip("_")


@frozen
class Operation:
    kind: ClassVar[str] = ""
    acknowledged: str | None = field(default=None, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for fl in fields(self):
            value = getattr(self, fl.name)
            if fl.default is not MISSING and value == fl.default:
                continue
            if isinstance(value, Column):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = [
                    c.to_dict() if isinstance(c, Column) else list(c) if isinstance(c, tuple) else c
                    for c in value
                ]
            out[_key(fl.name)] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Operation:
        """Build an operation from its dict form; raises ValueError naming what is wrong."""
        kind = data.get("kind")
        if kind not in OPERATIONS:
            raise ValueError(f"unknown operation kind {kind!r}")
        op_cls = OPERATIONS[kind]
        allowed = {_key(fl.name): fl for fl in fields(op_cls)}
        unknown = set(data) - set(allowed) - {"kind"}
        if unknown:
            raise ValueError(f"{kind}: unknown key(s) {', '.join(sorted(unknown))}")
        kwargs: dict[str, Any] = {}
        for key, fl in allowed.items():
            if key not in data:
                if fl.default is MISSING:
                    raise ValueError(f"{kind}: missing key {key!r}")
                continue
            kwargs[fl.name] = _parse_value(kind, key, fl.type, data[key])
        return op_cls(**kwargs)

    def describe(self) -> str:
        raise NotImplementedError

    def references(self) -> set[str]:
        """Tables this operation needs to exist besides its own (for ``depends_on``)."""
        return set()

    def apply(self, state: State) -> State:
        return state

    #: True when undoing the operation cannot bring the data back (DropTable, DropColumn...):
    #: a backward run stops at it unless --allow-irreversible (SPEC §8).
    irreversible: ClassVar[bool] = False

    def reverse(self, state: State) -> list[Operation]:
        """The operations that undo this one; ``state`` is the table state before it ran."""
        raise IrreversibleOperation(f"{self.kind} has no reverse")


def _parse_value(kind: str, key: str, type_: Any, value: Any) -> Any:
    t = str(type_)
    try:
        if t.startswith("Column"):
            return Column.from_dict(value)
        if t.startswith("tuple[Column"):
            return tuple(Column.from_dict(c) for c in value)
        if t.startswith("tuple[tuple"):
            return tuple(tuple(_strs(g)) for g in value)
        if t.startswith("tuple[str"):
            return tuple(_strs(value))
        if t.startswith("bool"):
            if not isinstance(value, bool):
                raise ValueError("expected true or false")
            return value
        if t.startswith("str"):
            if not isinstance(value, str) and not (value is None and "None" in t):
                raise ValueError("expected a string")
            return value
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{kind}.{key}: {exc}") from None
    return value


def _strs(values: Any) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError("expected a list of strings")
    return values


def _fk_refs(columns: tuple[Column, ...] | list[Column]) -> set[str]:
    return {c.fk_target for c in columns if c.is_fk and c.fk_target and c.db_constraint}


def _with_table(state: State, table: str, **changes: Any) -> State:
    new = dict(state)
    if table in new:
        new[table] = replace(new[table], **changes)
    return new


def _require(state: State, table: str, op: Operation) -> ModelState:
    model = state.get(table)
    if model is None:
        raise IrreversibleOperation(f"{op.kind}: table {table} is not in the plugin's schema")
    return model
