"""A validation cache for migration files, in the spirit of ``.pyc`` files.

Loading validates every file (SPEC §5). For a long history that means parsing megabytes of JSON
whose snapshots nobody reads: ``makemigrations --check`` needs each plugin's leaf snapshot only,
``showmigrations`` only ids, dependencies and checksums, ``migrate`` the operations of what it
applies and a predecessor's snapshot only when a renderer asks for the tables. A file loaded and
validated once is recorded here with its header, its checksum and where its operations lie in
it, keyed by its name, size, mtime and inode; a later load of the unchanged file skips parsing
it and reads a part of its body only when something asks for that part. So a command's cost
stops growing with history length unless it really needs the history.

Entries are written only for files whose mtime is at least ``RACY_SECONDS`` old (git's "racily
clean" rule): an edit that keeps the size and lands in the same timestamp tick as the cached
version can then never be mistaken for it. The cache lives outside the project
(``$UMBRAL_CACHE_DIR``, else ``$XDG_CACHE_HOME/umbral``, else ``~/.cache/umbral``; an empty
``UMBRAL_CACHE_DIR`` turns it off). Any problem reading or writing it means no cache, never an
error.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from umbral.errors import MigrationFileError
from umbral.migration import Migration
from umbral.version import __version__

#: Bumped when validation changes: an entry vouches for a file as the validator of its version
#: saw it (3: operations, columns and models are type-checked, see fileschema).
VERSION = 3
RACY_SECONDS = 3.0


def cache_dir() -> Path | None:
    env = os.environ.get("UMBRAL_CACHE_DIR")
    if env is not None:
        return Path(env) if env else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "umbral"


def stat_key(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


class CachedMigration(Migration):
    """A migration the cache vouches for: ``operations`` and ``snapshot_after`` are read from
    its file on first use (the file was validated when the entry was written)."""

    @classmethod
    def from_entry(cls, plugin: str, path: Path, key: list[int], entry: dict) -> CachedMigration:
        m = cls.__new__(cls)  # no dataclass __init__: the body is not known yet
        m.__dict__.update(
            plugin=plugin,
            id=entry["id"],
            depends_on=list(entry["depends_on"]),
            replaces=list(entry["replaces"]),
            atomic=entry["atomic"],
            # An entry written before skip_on existed vouches for a file without it.
            skip_on=list(entry.get("skip_on", ())),
            path=path,
            _checksum=entry["checksum"],
            _stat_key=key,
            _operations_span=entry.get("operations_at"),
        )
        return m

    def _read_body(self) -> None:
        from umbral.loader import load_file

        self._check_unchanged()
        full = load_file(self.path, self.plugin)
        self.__dict__.setdefault("_operations", full.operations)
        self.__dict__.setdefault("_snapshot_after", full.snapshot_after)

    def _read_part(self, attr: str, build: Callable[[dict], Any]) -> None:
        """Build one part of the body from the file, not the other: ``makemigrations`` needs
        only the snapshot of a plugin's leaf (building the operations too doubled the cost of a
        no-change check), ``migrate`` only the operations, and the snapshot of a predecessor
        only when a renderer asks for the tables (``executor.LazyState``)."""
        self._check_unchanged()
        assert self.path is not None
        span = self.__dict__.get("_operations_span")
        try:
            if attr == "_operations" and span is not None:
                # Only the bytes of the operations array: the snapshot after it is most of
                # the file, and each history step repeats the plugin's whole schema.
                with self.path.open("rb") as f:
                    f.seek(span[0])
                    value = build({"operations": json.loads(f.read(span[1] - span[0]))})
            else:
                value = build(json.loads(self.path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            self._read_body()  # let the full loader name the problem
            return
        self.__dict__.setdefault(attr, value)

    def _check_unchanged(self) -> None:
        assert self.path is not None
        if stat_key(self.path) != self.__dict__.get("_stat_key"):
            raise MigrationFileError(
                f"migration file {self.path}: changed while umbral was running; run the "
                "command again"
            )

    @property  # type: ignore[override]
    def operations(self) -> Any:
        if "_operations" not in self.__dict__:
            self._read_part("_operations", _operations_of)
        return self.__dict__["_operations"]

    @operations.setter
    def operations(self, value: Any) -> None:
        self.__dict__["_operations"] = value

    @property  # type: ignore[override]
    def snapshot_after(self) -> Any:
        if "_snapshot_after" not in self.__dict__:
            self._read_part("_snapshot_after", _snapshot_of)
        return self.__dict__["_snapshot_after"]

    @snapshot_after.setter
    def snapshot_after(self, value: Any) -> None:
        self.__dict__["_snapshot_after"] = value


def _operations_of(data: dict) -> list[Any]:
    from umbral.operations import Operation

    return [Operation.from_dict(raw) for raw in data["operations"]]


def _snapshot_of(data: dict) -> Any:
    from umbral.schema import Snapshot

    return Snapshot.from_dict(data["snapshot_after"])


def operations_span(path: Path, operations: list[Any]) -> list[int] | None:
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


def load_files(
    plugin: str, directory: Path, paths: list[Path], load: Callable[[Path, str], Migration]
) -> list[Migration]:
    """``load(path, plugin)`` for every path, except files the cache knows unchanged."""
    root = cache_dir()
    if root is None:
        return [load(p, plugin) for p in paths]
    # A name per directory, not a secret: two zlib checksums, as zlib is loaded anyway and
    # hashlib (OpenSSL) is not. Two directories sharing a name would only share entries,
    # which the file's size, mtime and inode tell apart.
    where = str(directory.resolve()).encode()
    digest = f"{zlib.crc32(where):08x}{zlib.adler32(where):08x}"
    store = root / f"migrations-{digest}.json"
    try:
        data = json.loads(store.read_text(encoding="utf-8"))
        same = data.get("version") == VERSION and data.get("umbral") == __version__
        files = data["files"] if same else {}  # another umbral may validate differently
    except (OSError, ValueError, KeyError, TypeError):
        files = {}
    dirty = False
    cutoff = time.time_ns() - int(RACY_SECONDS * 1e9)
    out: list[Migration] = []
    for p in paths:
        try:
            key = stat_key(p)
        except OSError:  # vanished or unreadable: load() reports it naming the file
            out.append(load(p, plugin))
            continue
        entry = files.get(p.name)
        if isinstance(entry, dict) and entry.get("key") == key and entry.get("plugin") == plugin:
            out.append(CachedMigration.from_entry(plugin, p, key, entry))
            continue
        m = load(p, plugin)  # validates; raises naming the file
        out.append(m)
        if key[1] < cutoff:
            files[p.name] = {
                "key": key, "plugin": plugin, "id": m.id, "depends_on": m.depends_on,
                "replaces": m.replaces, "atomic": m.atomic, "skip_on": m.skip_on,
                "checksum": m.checksum,
                "operations_at": operations_span(p, m.operations),
            }  # fmt: skip
            dirty = True
    names = {p.name for p in paths}
    for gone in [n for n in files if n not in names]:
        del files[gone]
        dirty = True
    if dirty:
        try:
            root.mkdir(parents=True, exist_ok=True)
            tmp = store.with_name(f".{store.name}.{os.getpid()}.tmp")
            payload = {"version": VERSION, "umbral": __version__, "files": files}
            tmp.write_text(json.dumps(payload), encoding="utf-8")
            os.replace(tmp, store)
        except OSError:
            pass
    return out
