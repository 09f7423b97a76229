"""The ``umbral`` entry-point scanner against ``importlib.metadata`` (the behaviour it replaces).

The scanner reads ``*.dist-info``/``*.egg-info`` directories itself to keep ``importlib.metadata``
(and the ``email`` package) out of start-up. These tests build real distribution metadata
directories on disk and compare what both find.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
import zipfile
from pathlib import Path

import pytest

from umbral.entrypoints import Distribution, entry_points, normalize


def dist_info(
    site: Path,
    name: str,
    version: str,
    eps: str | None,
    *,
    editable: bool = False,
    egg: bool = False,
) -> Path:
    stem = f"{name.replace('-', '_')}-{version}"
    d = site / (f"{name.replace('-', '_')}.egg-info" if egg else f"{stem}.dist-info")
    d.mkdir(parents=True)
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nlong description\nName: x\n"
    (d / ("PKG-INFO" if egg else "METADATA")).write_text(meta)
    if eps is not None:
        (d / "entry_points.txt").write_text(eps)
    if editable:
        (d / "direct_url.json").write_text(
            json.dumps({"url": "file:///src", "dir_info": {"editable": True}})
        )
    return d


def reference(group: str, path: list[str]) -> list[tuple[str, str, str, str]]:
    found = importlib.metadata.distributions(path=path)
    seen: set[str] = set()
    out = []
    for dist in found:
        key = normalize(dist.metadata["Name"])
        if key in seen:
            continue
        seen.add(key)
        for ep in dist.entry_points:
            if ep.group == group:
                out.append((ep.name, ep.value, dist.metadata["Name"], dist.version))
    return sorted(out)


def ours(group: str, path: list[str]) -> list[tuple[str, str, str, str | None]]:
    return sorted(
        (ep.name, ep.value, ep.distribution().name, ep.distribution().version)
        for ep in entry_points(group, path)
    )


def test_matches_importlib_metadata_on_a_built_site(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    dist_info(a, "umbral-gadgets", "1.2.0", "[umbral]\ngadgets = umbral_gadgets.plugin\n")
    dist_info(
        a,
        "Shop.Tools",
        "0.3",
        "# comment\n[console_scripts]\nshop = shop:main\n\n[umbral]\n"
        "shop = shop.plugin:hooks.Impl\n# other comment\nextra=shop.more\n",
        egg=True,
    )
    dist_info(a, "unrelated", "9.0", "[console_scripts]\nu = u:main\n")
    dist_info(a, "no-entry-points", "1.0", None)
    # The same distribution again later on the path: the first one wins.
    dist_info(b, "umbral-gadgets", "0.9.0", "[umbral]\ngadgets = old_gadgets.plugin\n")
    path = [str(a), str(b), str(tmp_path / "missing")]
    assert ours("umbral", path) == reference("umbral", path)
    assert ours("umbral", path) == [
        ("extra", "shop.more", "Shop.Tools", "0.3"),
        ("gadgets", "umbral_gadgets.plugin", "umbral-gadgets", "1.2.0"),
        ("shop", "shop.plugin:hooks.Impl", "Shop.Tools", "0.3"),
    ]


def test_matches_importlib_metadata_on_this_interpreter() -> None:
    assert ours("umbral", sys.path) == reference("umbral", sys.path)
    names = {name for name, *_ in ours("umbral", sys.path)}
    assert {"sqlite", "postgres"} <= names


def test_editable_flag_and_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    dist_info(
        site, "umbral-widgets", "2.0", "[umbral]\nw = widgets_pkg.hooks:Plugin\n", editable=True
    )
    pkg = site / "widgets_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "hooks.py").write_text("class Plugin:\n    marker = 'widgets'\n")
    monkeypatch.syspath_prepend(str(site))
    (ep,) = entry_points("umbral", [str(site)])
    assert ep.distribution() == Distribution("umbral-widgets", "2.0", True)
    assert ep.load().marker == "widgets"


def test_zip_path_entries_go_through_importlib_metadata(tmp_path: Path) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(
            "zipped-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: zipped\nVersion: 1.0\n"
        )
        z.writestr("zipped-1.0.dist-info/entry_points.txt", "[umbral]\nzipped = zipped.plugin\n")
    path = [str(archive)]
    assert (
        ours("umbral", path)
        == reference("umbral", path)
        == [("zipped", "zipped.plugin", "zipped", "1.0")]
    )
