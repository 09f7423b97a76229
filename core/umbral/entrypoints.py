"""Find the installed distributions' ``umbral`` entry points without ``importlib.metadata``.

Every command, ``umbral --help`` included, looks for plugins. ``importlib.metadata`` costs about
20 ms to import (it parses distribution metadata with the ``email`` package and pulls in
``zipfile`` and ``csv``), a fifth of the whole ``--help`` budget, to read a few small INI files.
This module reads them directly, with the same rules: ``sys.path`` order, one distribution per
normalised name (the first found wins, as ``importlib.metadata.distributions()`` does), the
``*.dist-info`` and ``*.egg-info`` directories of every directory on the path. A path entry that
is not a directory (a zip file or an egg) is handed to ``importlib.metadata``, which knows those.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from umbral.values import frozen

_SUFFIXES = (".dist-info", ".egg-info")


def normalize(name: str) -> str:
    """PEP 503 name normalisation, as distribution de-duplication uses it."""
    return re.sub(r"[-_.]+", "-", name).lower()


@frozen
class Distribution:
    """What umbral reports about the distribution that declares a plugin."""

    name: str
    version: str | None
    editable: bool


@frozen
class EntryPoint:
    name: str
    value: str  # ``module`` or ``module:attribute``
    _info_dir: Path | None = None  # the .dist-info/.egg-info directory, when read directly
    _dist: Any = None  # an importlib.metadata.Distribution, for zip entries

    def load(self) -> Any:
        module, _, attr = self.value.partition(":")
        obj = importlib.import_module(module.strip())
        for part in attr.strip().split(".") if attr.strip() else ():
            obj = getattr(obj, part)
        return obj

    def distribution(self) -> Distribution:
        if self._dist is not None:
            return _from_importlib(self._dist)
        assert self._info_dir is not None
        return _read_distribution(self._info_dir)


def entry_points(group: str, path: Iterable[str] | None = None) -> list[EntryPoint]:
    """Every entry point of ``group``, from the first distribution of each name on the path."""
    seen: set[str] = set()
    found: list[EntryPoint] = []
    for entry in sys.path if path is None else path:
        directory = entry or "."
        if not os.path.isdir(directory):
            if os.path.isfile(directory):
                found.extend(_from_zip(directory, group, seen))
            continue
        try:
            names = sorted(os.listdir(directory))  # importlib.metadata's order is unspecified
        except OSError:
            continue
        for name in names:
            if not name.endswith(_SUFFIXES):
                continue
            key = normalize(_dist_name_from_dir(name))
            if key in seen:
                continue
            info_dir = Path(directory, name)
            if not info_dir.is_dir():
                continue
            seen.add(key)
            try:
                text = (info_dir / "entry_points.txt").read_text(encoding="utf-8")
            except OSError:
                continue
            for ep_name, value in _parse_group(text, group):
                found.append(EntryPoint(ep_name, value, _info_dir=info_dir))
    return found


def find_distribution(name: str, path: Iterable[str] | None = None) -> Distribution | None:
    """The first installed distribution called ``name`` on the path, read directly."""
    want = normalize(name)
    for entry in sys.path if path is None else path:
        directory = entry or "."
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for dirname in names:
            if dirname.endswith(_SUFFIXES) and normalize(_dist_name_from_dir(dirname)) == want:
                return _read_distribution(Path(directory, dirname))
    return None


def _dist_name_from_dir(dirname: str) -> str:
    stem = dirname.rsplit(".", 1)[0]
    return stem.split("-", 1)[0]  # name-version.dist-info; the name holds no dash when built


def _parse_group(text: str, group: str) -> Iterator[tuple[str, str]]:
    """``name = value`` lines of one ``[group]`` section (the entry_points.txt INI format)."""
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            inside = line[1:-1].strip() == group
            continue
        if inside and "=" in line:
            name, value = line.split("=", 1)
            yield name.strip(), value.strip()


def _read_distribution(info_dir: Path) -> Distribution:
    name: str | None = None
    version: str | None = None
    meta = "METADATA" if info_dir.name.endswith(".dist-info") else "PKG-INFO"
    try:
        with open(info_dir / meta, encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    break  # the headers end at the first blank line
                key, _, value = line.partition(":")
                if key == "Name" and name is None:
                    name = value.strip()
                elif key == "Version" and version is None:
                    version = value.strip()
    except OSError:
        pass
    try:
        text = (info_dir / "direct_url.json").read_text(encoding="utf-8")
    except OSError:  # installed from an index: no direct_url.json, not editable
        text = ""
    return Distribution(name or _dist_name_from_dir(info_dir.name), version, _editable(text))


def _editable(direct_url: str) -> bool:
    if not direct_url:
        return False
    import json  # only distributions installed from a path or URL have the file

    try:
        return bool(json.loads(direct_url).get("dir_info", {}).get("editable"))
    except (ValueError, AttributeError):
        return False


def _from_zip(entry: str, group: str, seen: set[str]) -> list[EntryPoint]:
    from importlib.metadata import distributions

    out: list[EntryPoint] = []
    for dist in distributions(path=[entry]):
        key = normalize(dist.metadata["Name"] or "")
        if key in seen:
            continue
        seen.add(key)
        for ep in dist.entry_points:
            if ep.group == group:
                out.append(EntryPoint(ep.name, ep.value, _dist=dist))
    return out


def _from_importlib(dist: Any) -> Distribution:
    try:
        raw = dist.read_text("direct_url.json") or ""
    except OSError:
        raw = ""
    return Distribution(dist.metadata["Name"], dist.version, _editable(raw))
