"""Read and validate migration files from disk (SPEC §5).

Every file is validated before anything touches the database: bad JSON, an unknown ``kind``, a
missing key, an id that does not match the file name, a plugin that does not match the folder, a
duplicate sequence number. Errors name the file. This module reads files; it never writes them
(see ``writer``) and never opens a database.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from umbral.errors import MigrationFileError
from umbral.migration import FORMAT_VERSION, ID_RE, Migration
from umbral.schema import Snapshot

if TYPE_CHECKING:
    from umbral.operations import Operation

_REQUIRED = ("umbral", "id", "plugin", "depends_on", "operations", "snapshot_after")
_ALLOWED = frozenset((*_REQUIRED, "replaces", "atomic", "skip_on"))

#: Makes the error naming the file for a problem found in it.
Fail = Callable[[str], MigrationFileError]


def load_file(path: Path, plugin: str) -> Migration:
    def fail(problem: str) -> MigrationFileError:
        return MigrationFileError(f"migration file {path}: {problem}")

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise fail("is not UTF-8 text") from None
    try:
        data = json.loads(text, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        raise fail(
            f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise fail(_TOO_DEEP) from None
    except ValueError as exc:  # NaN/Infinity, an integer of thousands of digits
        raise fail(f"is not valid JSON ({exc})") from None
    try:
        return _build(path, plugin, text, data, fail)
    except RecursionError:  # a structure nested beyond what any step of loading can walk
        raise fail(_TOO_DEEP) from None


_TOO_DEEP = "is nested too deeply to be a migration file (lists or objects within each other)"


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def _build(path: Path, plugin: str, text: str, data: Any, fail: Fail) -> Migration:
    _check_identity(path, plugin, data, fail)
    depends_on = _keys(data["depends_on"], "depends_on", fail)
    replaces = _keys(data.get("replaces", []), "replaces", fail)
    atomic = data.get("atomic", True)
    if not isinstance(atomic, bool):
        raise fail("`atomic` must be true or false")
    skip_on = _string_list(data.get("skip_on", []), "skip_on", fail)
    from umbral.config import ENV_NAME_RE

    bad_names = [name for name in skip_on if not ENV_NAME_RE.match(name)]
    if bad_names:
        raise fail(
            f"`skip_on` entry {bad_names[0]!r} is not an environment name "
            "(letters, digits, '_', '.', '-')"
        )
    operations = _operations(data["operations"], atomic, fail)
    try:
        snapshot = Snapshot.from_dict(data["snapshot_after"])
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise fail(f"snapshot_after: {exc}") from None
    return Migration(
        plugin=plugin,
        id=data["id"],
        operations=operations,
        snapshot_after=snapshot,
        depends_on=depends_on,
        replaces=replaces,
        atomic=atomic,
        skip_on=skip_on,
        path=path,
        source=text,
    )


def _check_identity(path: Path, plugin: str, data: Any, fail: Fail) -> None:
    """The file's keys, format version, id and plugin."""
    if not isinstance(data, dict):
        raise fail("must contain a JSON object")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise fail(f"missing key(s) {', '.join(repr(k) for k in missing)}")
    unknown = set(data) - _ALLOWED
    if unknown:
        raise fail(f"unknown key(s) {', '.join(repr(k) for k in sorted(unknown))}")
    if type(data["umbral"]) is not int or data["umbral"] != FORMAT_VERSION:
        raise fail(f"unsupported format version {data['umbral']!r} (this umbral reads 1)")
    if data["id"] != path.stem:
        raise fail(f"id {data['id']!r} does not match the file name {path.name!r}")
    if not ID_RE.match(path.stem):
        raise fail("file name must look like NNNN_name.json")
    if data["plugin"] != plugin:
        raise fail(f"plugin {data['plugin']!r} does not match its directory's plugin {plugin!r}")


def _keys(value: Any, key: str, fail: Fail) -> list[str]:
    """A list of ``plugin/NNNN_name`` migration keys (``depends_on``, ``replaces``)."""
    keys = _string_list(value, key, fail)
    for entry in keys:
        if entry.count("/") != 1 or not all(entry.split("/")):
            raise fail(f"{key} entry {entry!r} must look like plugin/NNNN_name")
    return keys


def _operations(raw_operations: Any, atomic: bool, fail: Fail) -> list[Operation]:
    if not isinstance(raw_operations, list):
        raise fail("`operations` must be a list")
    # here: a load from the cache never needs them
    from umbral.fileschema import check_operation
    from umbral.operations import Operation

    operations: list[Operation] = []
    for i, raw in enumerate(raw_operations):
        if not isinstance(raw, dict):
            raise fail(f"operation #{i + 1} must be an object")
        try:
            check_operation(raw)  # every key's type and value (fileschema)
            operations.append(Operation.from_dict(raw))
        except (ValueError, TypeError) as exc:
            raise fail(f"operation #{i + 1}: {exc}") from None
    if atomic:
        for i, op in enumerate(operations):
            statement = _transaction_control(op)
            if statement is not None:
                problem = in_transaction_problem(i, op.kind, statement, "controls the transaction")
                raise fail(problem)
        for i, op in enumerate(operations):
            if getattr(op, "concurrent", False):
                # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction (SPEC §5).
                raise fail(
                    f'operation #{i + 1} ({op.kind}) has "concurrent": true but the migration is '
                    'atomic; add "atomic": false to the file (a concurrent index build runs '
                    "outside a transaction, best alone in its migration)"
                )
    return operations


def _transaction_control(op: Operation) -> str | None:
    """The first statement of a RunSql (``sql``, or ``reverse_sql``, which runs when the
    migration is un-applied) that begins, ends or divides a transaction."""
    if op.kind != "RunSql":
        return None
    from umbral.sqlscript import split_sql, transaction_control

    scripts = (op.sql, op.reverse_sql or "")  # type: ignore[attr-defined]
    return next((s for sql in scripts for s in split_sql(sql) if transaction_control(s)), None)


def in_transaction_problem(
    index: int, kind: str, statement: str, reason: str, remedy: str | None = None
) -> str:
    """Why operation ``index`` cannot run in its migration's transaction, and what to do."""
    shown = " ".join(statement.split())
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    remedy = remedy or (
        'remove the statement, or add "atomic": false to the file to run the migration '
        "statement by statement outside a transaction"
    )
    return (
        f"operation #{index + 1} ({kind}): statement `{shown}` {reason}, but the migration "
        f"runs in one transaction with its tracking row (a failure must undo all of it); {remedy}"
    )


def _string_list(value: Any, key: str, fail: Fail) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(f"`{key}` must be a list of strings")
    return list(value)


class Store(Protocol):
    """What the loader asks of a validation cache (``loadcache.FileStore``): entries by file
    name and stamp (``stat_key``), each the header of a file validated earlier."""

    def get(self, name: str, stamp: list[int]) -> dict[str, Any] | None: ...

    def put(self, name: str, stamp: list[int], entry: Callable[[], dict[str, Any]]) -> None: ...

    def flush(self, names: Collection[str]) -> None: ...


def load_plugin(
    plugin: str, directory: Path, *, branches: bool = False, store: Store | None = None
) -> list[Migration]:
    """Load every ``*.json`` of a plugin's migrations directory, sorted by id; files ``store``
    vouches for unchanged are not parsed again (their bodies are read on first use).

    ``branches=True`` accepts unmerged duplicate sequence numbers (for ``--merge``).
    """
    try:
        # The names alone, sorted as strings: cheaper than globbing and sorting paths.
        with os.scandir(directory) as entries:
            names = sorted(e.name for e in entries if e.name.endswith(".json"))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise MigrationFileError(
            f"cannot read the migrations directory {directory}: {exc.strerror or exc}; make it "
            "a readable directory, or remove it"
        ) from None
    paths = [directory / name for name in names]
    if store is None:
        migrations = [load_file(p, plugin) for p in paths]
    else:
        migrations = [_load_through(store, p, plugin) for p in paths]
    if not branches:
        _check_sequences(plugin, migrations)
    if any(m.body is None for m in migrations):  # read anew: checked against the tables
        from umbral.opcheck import check_plugin

        check_plugin(migrations)
    if store is not None:  # only now: a file refused above must not be vouched for
        store.flush({p.name for p in paths})
    return migrations


def _check_sequences(plugin: str, migrations: list[Migration]) -> None:
    """Two files with one sequence number are two branches; once a merge migration follows
    both they are resolved (SPEC §5): it may depend on a later migration of a branch."""
    merges = [m for m in migrations if len(m.depends_on) > 1]
    merged: list[set[str]] | None = None  # what each merge follows, worked out on a collision
    seen: dict[int, Migration] = {}
    for m in migrations:
        if m.replaces:
            continue  # a squash's name does not count as a sequence number (SPEC §5)
        other = seen.get(m.sequence)
        if other is not None and merged is None:
            merged = _followed(merges, migrations)
        if other is not None and not any({other.key, m.key} <= keys for keys in merged or ()):
            raise MigrationFileError(
                f"plugin `{plugin}` has two migrations with sequence {m.sequence:04d}: "
                f"{other.path} and {m.path}; if two branches each ran makemigrations, run "
                "`umbral makemigrations --merge`, otherwise renumber one of them"
            )
        seen[m.sequence] = m


def _followed(merges: list[Migration], migrations: list[Migration]) -> list[set[str]]:
    """For each merge, the keys of the migrations before it (without recursion)."""
    by_key = {m.key: m for m in migrations}
    out = []
    for merge in merges:
        seen: set[str] = set()
        stack = list(merge.depends_on)
        while stack:
            key = stack.pop()
            if key not in seen and key in by_key:
                seen.add(key)
                stack.extend(by_key[key].depends_on)
        out.append(seen)
    return out


# -- through a validation cache -----------------------------------------------------------------


def stat_key(path: Path) -> list[int]:
    """A version of a file: its size, mtime and inode."""
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _load_through(store: Store, path: Path, plugin: str) -> Migration:
    try:
        stamp = stat_key(path)
    except OSError:  # vanished or unreadable: load_file reports it naming the file
        return load_file(path, plugin)
    entry = store.get(path.name, stamp)
    if entry is not None and entry.get("plugin") == plugin:
        return Migration(
            plugin,
            entry["id"],
            depends_on=list(entry["depends_on"]),
            replaces=list(entry["replaces"]),
            atomic=entry["atomic"],
            # An entry written before skip_on existed vouches for a file without it.
            skip_on=list(entry.get("skip_on", ())),
            path=path,
            checksum=entry["checksum"],
            body=FileBody(path, plugin, stamp, entry.get("operations_at")),
            kinds=entry.get("kinds"),
        )
    m = load_file(path, plugin)  # validates; raises naming the file

    def entry_of() -> dict[str, Any]:
        return {
            "plugin": plugin, "id": m.id, "depends_on": m.depends_on, "replaces": m.replaces,
            "atomic": m.atomic, "skip_on": m.skip_on, "checksum": m.checksum,
            "operations_at": operations_span(path, m.operations),
            "kinds": [op.kind for op in m.operations],
        }  # fmt: skip

    store.put(path.name, stamp, entry_of)
    return m


class FileBody:
    """The body of a file a store vouches for (it was validated when the entry was written),
    read part by part: the operations alone from their bytes of the file (``span``, when it is
    laid out canonically), the snapshot from the whole file. A file changed since is refused."""

    def __init__(self, path: Path, plugin: str, stamp: list[int], span: list[int] | None) -> None:
        self.path, self.plugin, self.stamp, self.span = path, plugin, stamp, span

    def operations(self) -> list[Operation]:
        return self._read("operations", _operations_of)

    def snapshot_after(self) -> Snapshot:
        return self._read("snapshot_after", _snapshot_of)

    def _read(self, part: str, build: Callable[[dict[str, Any]], Any]) -> Any:
        self._check_unchanged()
        try:
            if part == "operations" and self.span is not None:
                # Only the bytes of the operations array: the snapshot after it is most of
                # the file, and each history step repeats the plugin's whole schema.
                start, end = self.span
                with self.path.open("rb") as f:
                    f.seek(start)
                    return build({"operations": json.loads(f.read(end - start))})
            return build(json.loads(self.path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            self._check_unchanged()
            return getattr(load_file(self.path, self.plugin), part)  # names the problem

    def _check_unchanged(self) -> None:
        if stat_key(self.path) != self.stamp:
            raise MigrationFileError(
                f"migration file {self.path}: changed while umbral was running; run the "
                "command again"
            )


def _operations_of(data: dict[str, Any]) -> list[Operation]:
    from umbral.operations import Operation

    return [Operation.from_dict(raw) for raw in data["operations"]]


def _snapshot_of(data: dict[str, Any]) -> Snapshot:
    # The store vouches for the file (validated, unchanged since): its models' values are not
    # checked again; a malformed part still raises, and ``Shim._read`` then names it.
    return Snapshot.from_dict(data["snapshot_after"], checked=False)


def operations_span(path: Path, operations: list[Operation]) -> list[int] | None:
    """Byte offsets ``[start, end)`` of the top-level ``operations`` array of a migration file
    whose validated ``operations`` are given, for reading it alone later; None when the file is
    not laid out canonically (SPEC §5: sorted keys, two-space indent) or the span does not
    hold exactly those operations."""
    key = b'\n  "operations": '  # a string cannot hold a raw newline: only a top-level key
    try:
        raw = path.read_bytes()
        at = raw.find(key)
        if at < 0:
            return None
        start = at + len(key)
        decoder = json.JSONDecoder()
        text = raw.decode("utf-8")
        char_start = len(raw[:start].decode("utf-8"))
        value, char_end = decoder.raw_decode(text, char_start)
        if _operations_of({"operations": value}) != operations:
            return None
        return [start, start + len(text[char_start:char_end].encode("utf-8"))]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
