"""A cache of rendered SQL, beside the validation cache (``umbral.loadcache``).

Rendering a migration is a pure function of its file, the code that renders it and the
backend's facts (``Backend.render_key``), unless a renderer reads the tables before it
(``RenderContext.state``) or returns a step decided at run time: those renderings are never
kept. On a fresh database the fast path renders each plugin's schema from its snapshot (the
"head" part); the replay renders each migration as written (the "forward" part). Both are kept
here, per migrations directory and file name, with the file's checksum and a digest of the
rendering code: the size and mtime of every Python file of umbral, of the backend's package and
of every plugin implementing ``umbral_render_operation``. An edit to any of them, or to the
file, renders anew. Like the validation cache, any problem reading or writing it means no
cache, never an error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from umbral import loadcache

if TYPE_CHECKING:
    import pluggy

    from umbral.backend import Backend
    from umbral.migration import Migration


def open_cache(pm: pluggy.PluginManager, backend: Backend) -> SqlCache | None:
    """The cache of this process's renderers for ``backend``; None when the cache is turned off
    or the backend does not say what its rendering depends on."""
    root = loadcache.cache_dir()
    facts = backend.render_key()
    if root is None or facts is None:
        return None
    return SqlCache(root, pm, backend, facts)


class SqlCache:
    def __init__(self, root: Path, pm: pluggy.PluginManager, backend: Backend, facts: str):
        self.root = root
        self.pm, self.backend, self.facts = pm, backend, facts
        self._code: str | None = None
        self._stores: dict[Path, _Store] = {}

    @property
    def code(self) -> str:
        if self._code is None:
            self._code = code_digest(self.pm, self.backend, self.facts)
        return self._code

    def get(self, m: Migration, part: str) -> dict[str, Any] | None:
        """What ``part`` of ``m`` rendered to, when it was kept for this very file and code."""
        store = self._store(m)
        entry = store.files.get(m.path.name) if store is not None else None  # type: ignore[union-attr]
        if not isinstance(entry, dict) or entry.get("checksum") != m.checksum:
            return None
        if entry.get("code") != self.code:
            return None
        data = entry.get(part)
        return data if isinstance(data, dict) else None

    def put(self, m: Migration, part: str, data: dict[str, Any]) -> None:
        store = self._store(m)
        if store is None:
            return
        name = m.path.name  # type: ignore[union-attr]
        entry = store.files.get(name)
        if (
            not isinstance(entry, dict)
            or entry.get("checksum") != m.checksum
            or (entry.get("code") != self.code)
        ):
            entry = store.files[name] = {"checksum": m.checksum, "code": self.code}
        entry[part] = data
        store.dirty = True

    def flush(self) -> None:
        for store in self._stores.values():
            if store.dirty:
                loadcache.write_cache(store.file, "files", store.files)
                store.dirty = False

    def _store(self, m: Migration) -> _Store | None:
        if m.path is None:  # made in memory, not read from a file
            return None
        directory = m.path.parent
        store = self._stores.get(directory)
        if store is None:
            file = loadcache.cache_file(self.root, "rendered", directory)
            store = self._stores[directory] = _Store(file)
        return store if store.file is not None else None


class _Store:
    def __init__(self, file: Path | None) -> None:
        self.file = file
        files = loadcache.read_cache(file, "files") if file is not None else None
        self.files: dict[str, Any] = files if isinstance(files, dict) else {}
        self.dirty = False


# -- the code that renders ----------------------------------------------------------------


def code_digest(pm: pluggy.PluginManager, backend: Backend, facts: str) -> str:
    """A digest of the backend's facts and of every Python file that may take part in rendering:
    umbral's, the backend's package and those of the plugins implementing the render hook."""
    from hashlib import sha256

    from umbral.version import __version__

    roots = {_root("umbral")}
    hooks = pm.hook.umbral_render_operation.get_hookimpls()
    roots |= {_root(_module_of(impl.plugin)) for impl in hooks}
    roots |= {_root(cls.__module__) for cls in type(backend).__mro__}
    lines = [f"umbral {__version__}", f"python {sys.version_info[:2]}", f"facts {facts}"]
    for root in sorted(r for r in roots if r is not None):
        for path, size, mtime in _files(root):
            lines.append(f"{path} {size} {mtime}")
    return sha256("\n".join(lines).encode()).hexdigest()


def _module_of(plugin: Any) -> str:
    return plugin.__name__ if isinstance(plugin, type(sys)) else type(plugin).__module__


def _root(module: str | None) -> str | None:
    """The directory of ``module``'s top-level package (its file, for a lone module); None for
    a module without a file (built in)."""
    if not module:
        return None
    top = sys.modules.get(module.partition(".")[0])
    file = getattr(top, "__file__", None)
    if not file:
        return None
    return os.path.dirname(file) if os.path.basename(file) == "__init__.py" else file


def _files(root: str) -> Iterator[tuple[str, int, int]]:
    if os.path.isfile(root):
        st = os.stat(root)
        yield root, st.st_size, st.st_mtime_ns
        return
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                st = os.stat(path)
                yield path, st.st_size, st.st_mtime_ns
