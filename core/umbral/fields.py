"""Field declarations (SPEC §2).

A field is a declaration only: it describes a column and knows nothing about SQL. ``Model``
collects fields in declaration order and turns them into :class:`umbral.schema.Column` objects
when a snapshot is built (foreign-key targets are resolved then, once every model is known).
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

from umbral.errors import ModelDefinitionError
from umbral.schema import FK_ACTIONS, TEMPORAL_TYPES

_LITERALS = (str, int, float, bool, list, dict)


class Field:
    """Base class of every column field. Subclasses set ``type_name``."""

    type_name: str = ""

    def __init__(
        self,
        *,
        primary_key: bool = False,
        nullable: bool = False,
        default: Any = None,
        unique: bool = False,
        index: bool = False,
        help: str | None = None,
        choices: list[Any] | tuple[Any, ...] | None = None,
        column: str | None = None,
    ) -> None:
        self.primary_key = primary_key
        self.nullable = nullable
        self.default = default
        self.unique = unique
        self.index = index
        self.help = help
        # As given until ``validate`` checks it and makes it a tuple (a string would be
        # taken apart into its characters).
        self.choices: Any = choices
        self.column = column
        self.attname: str | None = None  # set by __set_name__
        self.model_name: str | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        self.attname = name
        self.model_name = owner.__name__

    @property
    def column_name(self) -> str:
        return self.column or self.attname or ""

    def _where(self) -> str:
        return f"{self.model_name}.{self.attname}"

    def validate(self) -> None:
        """Reject option combinations that can never work; called when the model class is built."""
        for option in _FLAGS:
            value = getattr(self, option, False)
            if not isinstance(value, bool):
                raise ModelDefinitionError(
                    f"field `{self._where()}`: {option} must be True or False, not {value!r}"
                )
        for option in ("help", "column"):
            value = getattr(self, option)
            if value is not None and (
                not isinstance(value, str) or not (value or option == "help")
            ):
                raise ModelDefinitionError(
                    f"field `{self._where()}`: {option} must be a string, not {value!r}"
                )
        if self.choices is not None:
            if not isinstance(self.choices, list | tuple):
                raise ModelDefinitionError(
                    f"field `{self._where()}`: choices must be a list or tuple of values, not "
                    f"{self.choices!r}"
                )
            self.choices = tuple(self.choices)
        if self.default is not None:
            if callable(self.default):
                raise ModelDefinitionError(
                    f"field `{self._where()}`: default must be a literal value stored in the "
                    "database schema, not a callable"
                )
            self.default = _literal(self.default, self._where())
        if self.primary_key and self.nullable:
            raise ModelDefinitionError(f"field `{self._where()}`: a primary key cannot be nullable")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.attname}>"


#: Options that are True or False (a string "false" is truthy: it would be written as true).
_FLAGS = ("primary_key", "nullable", "unique", "index", "db_constraint", "auto_now_add", "auto_now")


def _literal(value: Any, where: str) -> Any:
    """Normalise a default to a JSON-storable literal."""
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, list | dict):
        return value
    raise ModelDefinitionError(
        f"field `{where}`: default {value!r} is not a literal (str, int, float, bool, list, dict)"
    )


class SmallInt(Field):
    type_name = "SmallInt"


class Integer(Field):
    type_name = "Integer"


class BigInt(Field):
    type_name = "BigInt"


class Real(Field):
    type_name = "Real"


class Double(Field):
    type_name = "Double"


class Boolean(Field):
    type_name = "Boolean"


class Text(Field):
    type_name = "Text"

    def __init__(self, *, max_length: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length

    def validate(self) -> None:
        super().validate()
        if self.max_length is not None and (
            not isinstance(self.max_length, int)
            or isinstance(self.max_length, bool)  # True is an int of 1
            or self.max_length <= 0
        ):
            raise ModelDefinitionError(
                f"field `{self._where()}`: max_length must be a positive integer"
            )


class _Temporal(Field):
    def __init__(self, *, auto_now_add: bool = False, auto_now: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.auto_now_add = auto_now_add
        self.auto_now = auto_now

    def validate(self) -> None:
        super().validate()
        if (self.auto_now_add or self.auto_now) and self.default is not None:
            raise ModelDefinitionError(
                f"field `{self._where()}`: auto_now/auto_now_add and default are exclusive"
            )


class Date(_Temporal):
    type_name = "Date"


class Time(_Temporal):
    type_name = "Time"


class Timestamp(_Temporal):
    type_name = "Timestamp"


class Timestamptz(_Temporal):
    type_name = "Timestamptz"


class Uuid(Field):
    type_name = "Uuid"


class Json(Field):
    type_name = "Json"


class Bytes(Field):
    type_name = "Bytes"


class Decimal(Field):
    type_name = "Decimal"


class ForeignKey(Field):
    """A column holding the target model's primary-key value.

    ``to`` is a model class, a class name (same plugin, or unique across plugins) or
    ``"plugin.ClassName"``.
    """

    type_name = "ForeignKey"

    def __init__(
        self,
        to: Any,
        *,
        on_delete: str = "no_action",
        on_update: str = "no_action",
        db_constraint: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.to = to
        self.on_delete = on_delete
        self.on_update = on_update
        self.db_constraint = db_constraint

    def validate(self) -> None:
        super().validate()
        for opt in ("on_delete", "on_update"):
            if getattr(self, opt) not in FK_ACTIONS:
                raise ModelDefinitionError(
                    f"field `{self._where()}`: {opt}={getattr(self, opt)!r} is not one of "
                    + ", ".join(FK_ACTIONS)
                )
        if "set_null" in (self.on_delete, self.on_update) and not self.nullable:
            raise ModelDefinitionError(
                f"field `{self._where()}`: on_delete/on_update='set_null' needs nullable=True"
            )


class ManyToMany:
    """A many-to-many relation: a junction table, not a column."""

    def __init__(self, to: Any) -> None:
        self.to = to
        self.attname: str | None = None
        self.model_name: str | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        self.attname = name
        self.model_name = owner.__name__

    def __repr__(self) -> str:
        return f"<ManyToMany {self.attname}>"


assert {c.type_name for c in (Date, Time, Timestamp, Timestamptz)} == TEMPORAL_TYPES

__all__ = [
    "BigInt", "Boolean", "Bytes", "Date", "Decimal", "Double", "Field", "ForeignKey", "Integer",
    "Json", "ManyToMany", "Real", "SmallInt", "Text", "Time", "Timestamp", "Timestamptz", "Uuid",
]  # fmt: skip
