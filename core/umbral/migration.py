"""Migration files: the in-memory form and its canonical JSON (SPEC §5).

Canonical serialization: keys sorted, 2-space indent, trailing newline, non-ASCII kept as is.
Re-writing an unchanged file is byte-identical, and the checksum recorded on apply is the SHA-256
of this canonical text, so re-formatting a file by hand is not drift but changing it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # only annotations: commands that read no operation never import them
    from umbral.operations import Operation
    from umbral.schema import Snapshot

FORMAT_VERSION = 1
ID_RE = re.compile(r"^(\d{4,})_[A-Za-z0-9_]+$")
SQUASH_RE = re.compile(r"^(\d{4,})_squashed_(\d{4,})(?:_[A-Za-z0-9_]+)?$")


class Body(Protocol):
    """Where a migration's operations and snapshot come from when they were not given (a file
    the load cache vouches for: ``loader.FileBody``). Each part is read on its first use, alone:
    ``makemigrations`` needs only a leaf's snapshot, ``migrate`` only the operations of what it
    applies."""

    def operations(self) -> list[Operation]: ...

    def snapshot_after(self) -> Snapshot: ...


class Migration:
    """A migration in memory: given whole, or its header and a ``body`` to read the rest from.

    ``source`` is the text the migration was read from: its checksum is over the canonical form
    of that text (see ``checksum``)."""

    def __init__(
        self,
        plugin: str,
        id: str,
        operations: list[Operation] | None = None,
        snapshot_after: Snapshot | None = None,
        depends_on: list[str] | None = None,
        replaces: list[str] | None = None,
        atomic: bool = True,
        skip_on: list[str] | None = None,
        path: Path | None = None,
        *,
        body: Body | None = None,
        checksum: str | None = None,
        source: str | None = None,
        extra_files: dict[Path, str] | None = None,
        kinds: list[str] | None = None,
    ) -> None:
        if body is None and (operations is None or snapshot_after is None):
            raise TypeError("a migration needs its operations and snapshot, or a body")
        self.plugin = plugin
        self.id = id
        self._operations = operations
        self._snapshot_after = snapshot_after
        self.body = body
        self.depends_on: list[str] = [] if depends_on is None else depends_on
        self.replaces: list[str] = [] if replaces is None else replaces
        self.atomic = atomic
        #: Environments where the migration is recorded as skipped instead of run.
        self.skip_on: list[str] = [] if skip_on is None else skip_on
        self.path = path
        self._checksum = checksum
        self._source = source
        self._kinds = kinds
        #: Files written with the migration (a RunPython skeleton module), by path; not part of
        #: it. None: none.
        self.extra_files = extra_files

    @property
    def operations(self) -> list[Operation]:
        if self._operations is None:
            assert self.body is not None
            self._operations = self.body.operations()
        return self._operations

    @operations.setter
    def operations(self, value: list[Operation]) -> None:
        self._operations = value
        self._kinds = None

    @property
    def operation_kinds(self) -> list[str]:
        """The kinds of its operations in order: from a vouched file's entry without reading
        the operations, else from them."""
        if self._kinds is not None and self._operations is None:
            return self._kinds
        return [op.kind for op in self.operations]

    @property
    def snapshot_after(self) -> Snapshot:
        if self._snapshot_after is None:
            assert self.body is not None
            self._snapshot_after = self.body.snapshot_after()
        return self._snapshot_after

    @snapshot_after.setter
    def snapshot_after(self, value: Snapshot) -> None:
        self._snapshot_after = value

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.plugin, self.id, self.operations, self.snapshot_after, self.depends_on,
            self.replaces, self.atomic, self.skip_on, self.path, self._checksum,
        )  # fmt: skip

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Migration)
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        names = ("plugin", "id", "operations", "snapshot_after", "depends_on", "replaces")
        shown = zip((*names, "atomic", "skip_on", "path"), self._fields(), strict=False)
        return f"Migration({', '.join(f'{name}={value!r}' for name, value in shown)})"

    @property
    def key(self) -> str:
        return f"{self.plugin}/{self.id}"

    @property
    def where(self) -> str:
        """How an error names the migration: its file, or its key when it has none."""
        return f"migration file {self.path}" if self.path is not None else f"migration {self.key}"

    @property
    def sequence(self) -> int:
        """The number in the id; for ``<first>_squashed_<last>`` the last one."""
        squashed = SQUASH_RE.match(self.id)
        if squashed:
            return int(squashed.group(2))
        return id_sequence(self.id)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "umbral": FORMAT_VERSION,
            "id": self.id,
            "plugin": self.plugin,
            "depends_on": sorted(self.depends_on),
            "operations": [op.to_dict() for op in self.operations],
            "snapshot_after": self.snapshot_after.to_dict(),
        }
        if self.replaces:
            out["replaces"] = list(self.replaces)
        if not self.atomic:
            out["atomic"] = False
        if self.skip_on:
            out["skip_on"] = list(self.skip_on)
        return out

    def dumps(self) -> str:
        return canonical_json(self.to_dict())

    @property
    def checksum(self) -> str:
        if self._checksum is None:
            # Read from disk: over the canonical form of what was read, so formatting-only
            # edits by hand are not drift but any change of content is. Computed on first use:
            # re-serialising every file was most of the cost of loading a long history for
            # commands that never look at checksums. The text is dropped once used.
            text, self._source = self._source, None
            canonical = canonical_json(json.loads(text)) if text is not None else self.dumps()
            self._checksum = sha256(canonical)
        return self._checksum


def table_renames(migrations: Iterable[Migration]) -> dict[str, str]:
    """The tables ``migrations`` rename, in their order: first name -> last name."""
    from umbral.operations import RenameTable
    from umbral.schema import then_renamed

    out: dict[str, str] = {}
    for m in migrations:
        if "RenameTable" not in m.operation_kinds:
            continue
        for op in m.operations:
            if isinstance(op, RenameTable):
                out = then_renamed(out, op.from_, op.to)
    return out


def id_sequence(name: str) -> int:
    """The leading number of a migration id (``0003_add_x`` -> 3); 0 when it has none."""
    m = ID_RE.match(name)
    return int(m.group(1)) if m else 0


def canonical_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def sha256(text: str) -> str:
    import hashlib  # here: loading OpenSSL is a measurable share of a short command

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


#: A single operation's migration name, by kind, from the operation's dict (SPEC §5).
_SUFFIXES: dict[str, Callable[[dict[str, Any]], str]] = {
    "CreateTable": lambda d: f"create_{d['table']}",
    "DropTable": lambda d: f"drop_{d['table']}",
    "AddColumn": lambda d: f"add_{d['table']}_{d['column']['name']}",
    "DropColumn": lambda d: f"drop_{d['table']}_{d['column']}",
    "AlterColumn": lambda d: f"alter_{d['table']}_{d['column']}",
    "RenameTable": lambda d: f"rename_{d['from']}_to_{d['to']}",
    "RenameColumn": lambda d: f"rename_{d['table']}_{d['from']}_to_{d['to']}",
    "AddIndex": lambda d: f"add_index_{d['table']}_{'_'.join(d['columns'])}",
    "DropIndex": lambda d: f"drop_index_{d['table']}_{'_'.join(d['columns'])}",
    "SetColumnComment": lambda d: f"comment_{d['table']}_{d['column']}",
    "AlterM2MKey": lambda d: f"alter_{d['table']}_{d['column']}",
    "RunSql": lambda d: "run_sql",
    "RunPython": lambda d: "run_python",
}


def suffix_for(operations: list[Operation]) -> str:
    """Name a single-operation migration for its operation (SPEC §5); anything else is `auto`."""
    if len(operations) != 1:
        return "auto"
    name = _SUFFIXES.get(operations[0].kind)
    return name(operations[0].to_dict()) if name is not None else "auto"


def sanitize_suffix(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")
    return cleaned or "auto"
