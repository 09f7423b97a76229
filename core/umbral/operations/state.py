"""The table state operations read and shape: applying operations in order, and the state
before each operation of a migration, built only when read."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from umbral.operations.base import Operation, State
from umbral.schema import ModelState


def apply_all(state: State, operations: list[Operation] | tuple[Operation, ...]) -> State:
    for op in operations:
        state = op.apply(state)
    return state


class LazyState(Mapping[str, ModelState]):
    """The tables before one operation, built on first read (``render_migration``).

    Most operations render without looking at the tables, and building them means parsing the
    predecessor migration's snapshot, which repeats the plugin's whole schema: a long history
    would parse every one of them to apply the migrations in order."""

    __slots__ = ("_build", "_state")

    def __init__(self, build: Callable[[], State]) -> None:
        self._build = build
        self._state: State | None = None

    def _tables(self) -> State:
        if self._state is None:
            self._state = self._build()
        return self._state

    def __getitem__(self, table: str) -> ModelState:
        return self._tables()[table]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables())

    def __len__(self) -> int:
        return len(self._tables())


class StateThread:
    """The tables before each operation of one migration, from the tables before the first
    (``base``, built once when first needed) and the operations applied in order."""

    def __init__(self, base: Callable[[], State], operations: Sequence[Operation]) -> None:
        self._build_base = base
        self._base: State | None = None
        self._operations = operations
        self._at = 0  # how many operations ``_state`` has applied to the base
        self._state: State = {}

    def before(self, index: int) -> State:
        if self._base is None or index < self._at:  # first use, or asked for an earlier one
            if self._base is None:
                self._base = self._build_base()
            self._state, self._at = self._base, 0
        while self._at < index:
            self._state = self._operations[self._at].apply(self._state)
            self._at += 1
        return self._state

    @property
    def read(self) -> bool:
        """Whether the tables were built: some renderer read them."""
        return self._base is not None

    def lazy(self, index: int) -> LazyState:
        return LazyState(lambda: self.before(index))


def state_from_snapshot(models: Any) -> State:
    """Table state from a snapshot's models (views excluded: they are not tables)."""
    return {m.table: m for m in models.values() if m.view is None}
