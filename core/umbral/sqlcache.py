"""A cache of rendered SQL, beside the validation cache (``umbral.loadcache``).

Rendering a migration is a pure function of its file, the code that renders it and the
backend's facts (``Backend.render_key``), unless a renderer reads the tables before it
(``RenderContext.state``) or returns a step decided at run time: those renderings are never
kept. On a fresh database the fast path renders each plugin's schema from its snapshot (the
"head" part); the replay renders each migration as written (the "forward" part). Both are kept
here, per migrations directory and file name, with a digest of the file's bytes and one of the
rendering code: the render hook's implementations in their order, and the size and mtime of
every file of umbral, of the backend's package and of the packages of the plugins implementing
``umbral_render_operation``. An edit to any of them, or to the file, renders anew; code those
packages call from elsewhere is not watched. Like the validation cache, any problem reading or
writing it means no cache, never an error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from umbral import loadcache
from umbral.preflight import well_formed

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
        self._contents: dict[Path, str | None] = {}

    @property
    def code(self) -> str:
        if self._code is None:
            self._code = code_digest(self.pm, self.backend, self.facts)
        return self._code

    def get(self, m: Migration, part: str) -> dict[str, Any] | None:
        """What ``part`` of ``m`` rendered to, when it was kept for this very file and code."""
        store, content = self._store(m), self._content(m)
        if store is None or content is None:
            return None
        entry = store.files.get(m.path.name)  # type: ignore[union-attr]
        if not isinstance(entry, dict) or entry.get("content") != content:
            return None
        if entry.get("code") != self.code:
            return None
        data = entry.get(part)
        return data if _well_formed(data, part) else None

    def put(self, m: Migration, part: str, data: dict[str, Any]) -> None:
        store, content = self._store(m), self._content(m)
        if store is None or content is None:
            return
        name = m.path.name  # type: ignore[union-attr]
        entry = store.files.get(name)
        if not isinstance(entry, dict) or (entry.get("content"), entry.get("code")) != (
            content,
            self.code,
        ):
            entry = store.files[name] = {"content": content, "code": self.code}
        entry[part] = data
        store.dirty = True

    def flush(self) -> None:
        for store in self._stores.values():
            if store.dirty:
                loadcache.write_cache(store.file, "files", store.files)
                store.dirty = False

    def _content(self, m: Migration) -> str | None:
        """A digest of the file's bytes as they are now. Not its checksum: that comes from the
        validation cache, which knows a file by its size, mtime and inode, and a file rewritten
        keeping all three (an archive extracted with fixed mtimes) would be served the SQL of
        what it held before."""
        assert m.path is not None
        if m.path not in self._contents:
            from hashlib import blake2b

            try:
                data = m.path.read_bytes()
            except OSError:  # gone since it was loaded: rendering reports it
                self._contents[m.path] = None
            else:
                self._contents[m.path] = blake2b(data, digest_size=16).hexdigest()
        return self._contents[m.path]

    def _store(self, m: Migration) -> _Store | None:
        if m.path is None:  # made in memory, not read from a file
            return None
        directory = m.path.parent
        store = self._stores.get(directory)
        if store is None:
            file = loadcache.cache_file(self.root, "rendered", directory)
            store = self._stores[directory] = _Store(file)
        return store if store.file is not None else None


def _well_formed(data: Any, part: str) -> bool:
    """Whether a kept rendering has the shape this code writes (a file changed by anything
    else is no cache, never an error)."""
    if not isinstance(data, dict):
        return False
    parts = data.get("parts")
    ok = isinstance(parts, list) and all(
        isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and _strings(p[1])
        for p in parts
    )
    ok = ok and _strings(data.get("rebuilt"))
    ok = ok and all(isinstance(data.get(k), bool) for k in ("fk_off", "fk_neutral"))
    looks = data.get("looks", [])
    ok = ok and isinstance(looks, list) and all(map(well_formed, looks))
    if part == "head":
        ok = ok and all(_strings(data.get(k)) for k in ("owned", "tables", "targets"))
        ok = ok and isinstance(data.get("shims"), bool)
    return ok


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


class _Store:
    def __init__(self, file: Path | None) -> None:
        self.file = file
        files = loadcache.read_cache(file, "files") if file is not None else None
        self.files: dict[str, Any] = files if isinstance(files, dict) else {}
        self.dirty = False


# -- the code that renders ----------------------------------------------------------------


def code_digest(pm: pluggy.PluginManager, backend: Backend, facts: str) -> str:
    """A digest of the backend's facts, of the render hook's implementations in the order they
    are called, and of every file that may take part in rendering: umbral's, the backend's
    package and those of the plugins implementing the hook (where the plugin is registered
    and where its function is defined)."""
    from hashlib import sha256

    from umbral.version import __version__

    lines = [f"umbral {__version__}", f"python {sys.version_info[:2]}", f"facts {facts}"]
    modules = {"umbral", *(cls.__module__ for cls in type(backend).__mro__)}
    files: set[str] = set()
    for impl in pm.hook.umbral_render_operation.get_hookimpls():
        function = impl.function
        where = getattr(function, "__module__", None) or ""
        lines.append(
            f"hook {impl.plugin_name} {where}.{getattr(function, '__qualname__', '')} "
            f"{impl.tryfirst} {impl.trylast}"
        )
        modules |= {_module_of(impl.plugin), where}
        code = getattr(function, "__code__", None)
        if code is not None:
            files.add(code.co_filename)
    roots = sorted({r for m in modules if (r := _root(m)) is not None} | files)
    for root in roots:
        for path, size, mtime in _files(root):
            lines.append(f"{path} {size} {mtime}")
    return sha256("\n".join(lines).encode()).hexdigest()


def _module_of(plugin: Any) -> str:
    if isinstance(plugin, type(sys)):
        return plugin.__name__
    return plugin.__module__ if isinstance(plugin, type) else type(plugin).__module__


def _root(module: str) -> str | None:
    """The outermost regular package holding ``module`` (its directory), or the module's own
    file; None for a module without a file (built in). A namespace package has no file: the
    package inside it is taken (``acme.audit`` of ``acme.audit.render``)."""
    names = module.split(".")
    for i in range(1, len(names) + 1):
        file = getattr(sys.modules.get(".".join(names[:i])), "__file__", None)
        if file:
            return os.path.dirname(file) if os.path.basename(file) == "__init__.py" else file
    return None


def _files(root: str) -> Iterator[tuple[str, int, int]]:
    """Every file under ``root`` (compiled bytecode aside) with its size and mtime."""
    if os.path.isfile(root):
        st = os.stat(root)
        yield root, st.st_size, st.st_mtime_ns
        return
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if not name.endswith(".pyc"):
                path = os.path.join(directory, name)
                st = os.stat(path)
                yield path, st.st_size, st.st_mtime_ns
