"""A validation cache for migration files, in the spirit of ``.pyc`` files: the store the
loader is given (``loader.Store``).

Loading validates every file (SPEC §5). For a long history that means parsing megabytes of JSON
whose snapshots nobody reads: ``makemigrations --check`` needs each plugin's leaf snapshot only,
``showmigrations`` only ids, dependencies and checksums, ``migrate`` the operations of what it
applies and a predecessor's snapshot only when a renderer asks for the tables. A file loaded and
validated once is recorded here with its header, its checksum and where its operations lie in
it, keyed by its name, size, mtime and inode; a later load of the unchanged file skips parsing
it and reads a part of its body only when something asks for that part (``loader.FileBody``).
So a command's cost stops growing with history length unless it really needs the history.

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
import threading
import time
import zlib
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from umbral.version import __version__

#: Bumped when validation changes: an entry vouches for a file as the validator of its version
#: saw it (3: operations, columns and models are type-checked, see fileschema; 4: entries hold
#: their operations' kinds).
VERSION = 4
RACY_SECONDS = 3.0


def cache_dir() -> Path | None:
    env = os.environ.get("UMBRAL_CACHE_DIR")
    if env is not None:
        return Path(env) if env else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "umbral"


def open_store(directory: Path) -> FileStore | None:
    """The store of one migrations directory; None when the cache is turned off."""
    root = cache_dir()
    if root is None:
        return None
    file = cache_file(root, "migrations", directory)
    return None if file is None else FileStore(file)


def cache_file(root: Path, kind: str, directory: Path) -> Path | None:
    """The cache file of ``kind`` for one migrations directory (None: it cannot be named)."""
    # A name per directory, not a secret: two zlib checksums, as zlib is loaded anyway and
    # hashlib (OpenSSL) is not. Two directories sharing a name would only share entries,
    # which the file's size, mtime and inode (or checksum) tell apart.
    try:
        where = str(directory.resolve()).encode()
    except (OSError, RuntimeError):  # a symlink loop: the loader reports the directory
        return None
    return root / f"{kind}-{zlib.crc32(where):08x}{zlib.adler32(where):08x}.json"


class FileStore:
    """The entries of one migrations directory, by file name, kept in one JSON file and
    written back by ``flush`` when something changed."""

    def __init__(self, file: Path) -> None:
        self.file = file
        files = read_cache(file, "files")  # another umbral may validate differently: none
        self.files: dict[str, Any] = files if isinstance(files, dict) else {}
        self.dirty = False
        self.cutoff = time.time_ns() - int(RACY_SECONDS * 1e9)

    def get(self, name: str, stamp: list[int]) -> dict[str, Any] | None:
        """The entry of this version of the file (``stamp``: size, mtime, inode), if any."""
        entry = self.files.get(name)
        return entry if isinstance(entry, dict) and entry.get("key") == stamp else None

    def put(self, name: str, stamp: list[int], entry: Callable[[], dict[str, Any]]) -> None:
        """Keep ``entry()`` for this version of the file, unless it is racily new: it is built
        only then (its checksum costs a re-serialisation of the file)."""
        if stamp[1] < self.cutoff:
            self.files[name] = {"key": stamp, **entry()}
            self.dirty = True

    def flush(self, names: Collection[str]) -> None:
        """Forget the files not in ``names`` (gone from the directory) and write the store."""
        for gone in [n for n in self.files if n not in names]:
            del self.files[gone]
            self.dirty = True
        if not self.dirty:
            return
        write_cache(self.file, "files", self.files)
        self.dirty = False


def read_cache(file: Path, key: str) -> Any:
    """``key`` of a cache file written by this version of umbral, else None."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        same = data.get("version") == VERSION and data.get("umbral") == __version__
        return data[key] if same else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_cache(file: Path, key: str, value: Any) -> None:
    """Replace a cache file whole (readers never see half of it); a failure is ignored."""
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        payload = {"version": VERSION, "umbral": __version__, key: value}
        tmp.write_text(json.dumps(payload), encoding="utf-8")
        os.replace(tmp, file)
    except OSError:
        pass


#: How many agreeing chains ``Agreeing`` keeps (the oldest go first).
AGREEING_KEPT = 256


def open_agreeing() -> Agreeing | None:
    """The fast path's remembered checks; None when the cache is turned off."""
    root = cache_dir()
    return None if root is None else Agreeing(root / "fastpath-agreeing.json")


class Agreeing:
    """Chains of migrations whose operations, run from empty, were found to end at the last
    one's snapshot (the check of ``fastpath.split``), each kept as a digest of the migrations'
    keys and checksums. The checksum covers a file's whole content, so a chain is checked
    again whenever any file of it changes."""

    def __init__(self, file: Path) -> None:
        self.file = file
        chains = read_cache(file, "chains")
        self.chains: list[str] = (
            [c for c in chains if isinstance(c, str)] if isinstance(chains, list) else []
        )
        self.known = set(self.chains)

    def __contains__(self, digest: str) -> bool:
        return digest in self.known

    def add(self, digests: Collection[str]) -> None:
        """Remember ``digests`` and write the file (any problem writing it is ignored)."""
        fresh = [d for d in digests if d not in self.known]
        if not fresh:
            return
        self.chains = (self.chains + fresh)[-AGREEING_KEPT:]
        self.known = set(self.chains)
        write_cache(self.file, "chains", self.chains)
