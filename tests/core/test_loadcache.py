"""The migration-file validation cache: a cached load equals a full load, edits are noticed."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Collection
from pathlib import Path

import pytest

from umbral import Model, fields, loadcache
from umbral.autodetector import diff
from umbral.errors import MigrationFileError
from umbral.loader import FileBody, load_plugin, operations_span
from umbral.makemigrations import write_all
from umbral.migration import Migration
from umbral.models import build_snapshots
from umbral.schema import EMPTY


def sample_migration(directory: Path) -> Migration:
    class Post(Model, plugin="blog"):
        title = fields.Text(max_length=100)
        status = fields.Text(default="draft", index=True)

    snapshot = build_snapshots({"blog": [Post]})["blog"]
    m = Migration(
        plugin="blog",
        id="0001_initial",
        operations=diff(EMPTY, snapshot).operations,
        snapshot_after=snapshot,
        path=directory / "0001_initial.json",
    )
    write_all([m])
    return m


def age(path: Path, seconds: float = 60.0) -> None:
    """Make a file look older than the racy window, as files in a real repository are."""
    st = path.stat()
    old = st.st_mtime_ns - int(seconds * 1e9)
    os.utime(path, ns=(old, old))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("UMBRAL_CACHE_DIR", str(directory))
    return directory


def load(directory: Path) -> list[Migration]:
    """Load the directory as a command does: through the cache's store for it."""
    return load_plugin("blog", directory, store=loadcache.open_store(directory))


def from_cache(m: Migration) -> bool:
    """Whether the migration came from the cache: a header whose body is read from its file."""
    return isinstance(m.body, FileBody)


def load_twice(directory: Path) -> tuple[Path, Migration, Migration]:
    """Write an old-enough sample, load it (validated, cached), load it again (from the cache):
    the file, the full load and the cached one."""
    m = sample_migration(directory)
    assert m.path is not None
    age(m.path)
    [first] = load(directory)
    [second] = load(directory)
    return m.path, first, second


def test_second_load_comes_from_the_cache_and_matches(tmp_path: Path, cache: Path) -> None:
    _, first, second = load_twice(tmp_path / "blog")
    assert not from_cache(first)
    assert from_cache(second)
    assert second.checksum == first.checksum
    assert second.depends_on == first.depends_on
    assert second.operations == first.operations  # the body is read on first use
    assert second.snapshot_after == first.snapshot_after
    assert second.dumps() == first.dumps()


def test_fresh_files_are_not_cached(tmp_path: Path, cache: Path) -> None:
    sample_migration(tmp_path / "blog")  # just written: inside the racy window
    load(tmp_path / "blog")
    [again] = load(tmp_path / "blog")
    assert not from_cache(again)


def test_an_edit_is_seen(tmp_path: Path, cache: Path) -> None:
    path, before, _ = load_twice(tmp_path / "blog")
    path.write_text(path.read_text().replace('"draft"', '"DRAFT"'))  # same size, new mtime
    [after] = load(tmp_path / "blog")
    assert not from_cache(after)
    assert after.checksum != before.checksum


def test_an_empty_cache_dir_setting_turns_it_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UMBRAL_CACHE_DIR", "")
    m = sample_migration(tmp_path / "blog")
    assert m.path is not None
    age(m.path)
    load(tmp_path / "blog")
    [again] = load(tmp_path / "blog")
    assert not from_cache(again)


def test_the_snapshot_alone_is_read_without_the_operations(tmp_path: Path, cache: Path) -> None:
    _, first, cached = load_twice(tmp_path / "blog")
    assert from_cache(cached)
    # makemigrations asks a leaf for its snapshot only: the operations stay unread...
    assert cached.snapshot_after == first.snapshot_after
    assert vars(cached)["_operations"] is None
    # ...and are read, the same as a full load, when something asks for them.
    assert cached.operations == first.operations
    assert cached.dumps() == first.dumps()


def test_operations_are_read_without_the_snapshot(tmp_path: Path, cache: Path) -> None:
    path, first, cached = load_twice(tmp_path / "blog")
    assert from_cache(cached)
    # migrate renders from the predecessor's snapshot, and only when a renderer asks for the
    # tables: a migration's own snapshot is not needed to apply it...
    assert cached.operations == first.operations
    assert vars(cached)["_snapshot_after"] is None
    # ...and is read, the same as a full load, when something asks for it.
    assert cached.snapshot_after == first.snapshot_after
    assert cached.dumps() == first.dumps()
    # The operations came from their own bytes of the file, recorded when it was validated.
    assert isinstance(cached.body, FileBody) and cached.body.span is not None
    start, end = cached.body.span
    raw = path.read_bytes()
    assert raw[start:end].startswith(b"[") and raw[start:end].endswith(b"]")
    assert b'"snapshot_after"' in raw[end:]


def test_a_file_not_laid_out_canonically_is_read_whole(tmp_path: Path, cache: Path) -> None:
    directory = tmp_path / "blog"
    m = sample_migration(directory)
    assert m.path is not None
    data = json.loads(m.path.read_text())
    # Hand-formatted: another indent, and a RunSql whose SQL holds the canonical key's text.
    data["operations"].append(
        {"kind": "RunSql", "sql": "SELECT '\n  \"operations\": []'", "reverse_sql": ""}
    )
    m.path.write_text(json.dumps(data, indent=4, sort_keys=True))
    age(m.path)
    [first] = load(directory)
    [cached] = load(directory)
    assert from_cache(cached)
    assert isinstance(cached.body, FileBody) and cached.body.span is None
    assert cached.operations == first.operations
    assert cached.operations[-1].kind == "RunSql"
    assert operations_span(m.path, first.operations) is None


def test_a_file_changed_after_loading_is_refused_when_its_body_is_read(
    tmp_path: Path, cache: Path
) -> None:
    path, _, cached = load_twice(tmp_path / "blog")
    assert from_cache(cached)
    path.write_text(path.read_text().replace('"draft"', '"DRAFT"'))
    with pytest.raises(MigrationFileError, match="changed while umbral was running"):
        cached.snapshot_after  # noqa: B018


class DictStore:
    """A store in memory: what the loader asks of a cache, and nothing else."""

    def __init__(self) -> None:
        self.entries: dict[str, dict] = {}
        self.flushed: list[set[str]] = []

    def get(self, name: str, stamp: list[int]) -> dict | None:
        entry = self.entries.get(name)
        return entry if entry is not None and entry["key"] == stamp else None

    def put(self, name: str, stamp: list[int], entry: Callable[[], dict]) -> None:
        self.entries[name] = {"key": stamp, **entry()}

    def flush(self, names: Collection[str]) -> None:
        self.flushed.append(set(names))


def test_the_loader_uses_the_store_it_is_given(tmp_path: Path) -> None:
    sample_migration(tmp_path / "blog")
    store = DictStore()
    [first] = load_plugin("blog", tmp_path / "blog", store=store)
    assert not from_cache(first)
    assert store.entries["0001_initial.json"]["checksum"] == first.checksum
    [second] = load_plugin("blog", tmp_path / "blog", store=store)
    assert from_cache(second)
    assert second.dumps() == first.dumps()
    assert store.flushed == [{"0001_initial.json"}] * 2
    # Without a store every file is parsed and validated.
    [again] = load_plugin("blog", tmp_path / "blog")
    assert not from_cache(again)


def test_the_cache_and_the_loader_do_not_import_each_other() -> None:
    import ast

    import umbral.loadcache
    import umbral.loader

    def imported(module: object) -> set[str]:
        tree = ast.parse(Path(module.__file__).read_text())  # type: ignore[attr-defined]
        names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        names |= {
            f"{n.module}.{a.name}"
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom)
            for a in n.names
        }
        return {name for name in names if name}

    assert not {"umbral.loader", "umbral.loadcache"} & imported(umbral.loadcache)
    assert not {"umbral.loadcache", "umbral.loader"} & imported(umbral.loader)
