"""Reading migration files: validation errors name the file; canonical JSON (SPEC §5)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from umbral import Model, fields
from umbral import operations as ops
from umbral.autodetector import diff
from umbral.errors import MigrationFileError
from umbral.loader import load_file, load_plugin
from umbral.migration import Migration, canonical_json, sha256
from umbral.models import build_snapshots
from umbral.schema import EMPTY


def sample_migration(directory: Path, plugin: str = "blog") -> Migration:
    """A realistic first migration: two tables with an FK, options, a junction."""

    class Author(Model, plugin=plugin):
        name = fields.Text(max_length=100, help="Full name")
        email = fields.Text(unique=True)

    class Tag(Model, plugin=plugin):
        name = fields.Text()

    class Post(Model, plugin=plugin, unique_together=[("author", "slug")]):
        slug = fields.Text(nullable=True)
        status = fields.Text(default="draft", choices=["draft", "published"], index=True)
        author = fields.ForeignKey(Author, on_delete="cascade")
        tags = fields.ManyToMany(Tag)
        created_at = fields.Timestamptz(auto_now_add=True)

    snapshot = build_snapshots({plugin: [Author, Tag, Post]})[plugin]
    mid = "0001_initial"
    return Migration(
        plugin=plugin,
        id=mid,
        operations=[*diff(EMPTY, snapshot).operations, ops.RunSql(sql="SELECT 1")],
        snapshot_after=snapshot,
        depends_on=["auth/0003_auto"],
        path=directory / f"{mid}.json",
    )


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def valid(plugin: str = "blog", mid: str = "0001_initial", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "umbral": 1,
        "id": mid,
        "plugin": plugin,
        "depends_on": [],
        "operations": [
            {
                "kind": "CreateTable",
                "table": "blog_tag",
                "columns": [
                    {"name": "id", "type": "BigInt", "primary_key": True, "nullable": False}
                ],
            }
        ],
        "snapshot_after": {"models": []},
    }
    data.update(changes)
    return data


def test_a_written_migration_loads_back_equal(tmp_path: Path) -> None:
    m = sample_migration(tmp_path / "blog")
    write(m.path, m.dumps())
    loaded = load_file(m.path, "blog")
    assert loaded.operations == m.operations
    assert loaded.snapshot_after == m.snapshot_after
    assert (loaded.key, loaded.depends_on, loaded.atomic) == (
        "blog/0001_initial",
        m.depends_on,
        True,
    )


def test_canonical_serialisation_is_byte_identical_on_rewrite(tmp_path: Path) -> None:
    m = sample_migration(tmp_path / "blog")
    text = m.dumps()
    write(m.path, text)
    again = load_file(m.path, "blog").dumps()
    assert again == text
    assert text.endswith("}\n")
    assert '\n  "depends_on": [\n    "auth/0003_auto"\n  ],' in text  # 2-space indent, sorted keys
    assert list(json.loads(text)) == sorted(json.loads(text))


def test_checksum_is_the_sha256_of_the_canonical_text_and_ignores_formatting(
    tmp_path: Path,
) -> None:
    m = sample_migration(tmp_path / "blog")
    write(m.path, m.dumps())
    canonical = load_file(m.path, "blog").checksum
    assert canonical == m.checksum == sha256(m.dumps())
    # Re-formatted by hand (one line, other key order): same content, same checksum.
    data = json.loads(m.dumps())
    write(m.path, json.dumps(dict(reversed(list(data.items())))))
    assert load_file(m.path, "blog").checksum == canonical
    # A real change is a different checksum.
    data["operations"][-1]["sql"] = "SELECT 2"
    write(m.path, json.dumps(data))
    assert load_file(m.path, "blog").checksum != canonical


def test_optional_keys_replaces_and_atomic(tmp_path: Path) -> None:
    path = write(
        tmp_path / "blog" / "0003_a_squashed_b.json",
        valid(mid="0003_a_squashed_b", replaces=["blog/0001_a", "blog/0002_b"], atomic=False),
    )
    m = load_file(path, "blog")
    assert (m.replaces, m.atomic) == (["blog/0001_a", "blog/0002_b"], False)
    assert json.loads(m.dumps())["atomic"] is False
    assert canonical_json(m.to_dict()) == m.dumps()


BAD_FILES = [
    pytest.param("{not json", "is not valid JSON", id="bad-json"),
    pytest.param("[1, 2]", "must contain a JSON object", id="not-object"),
    pytest.param(
        valid(operations=[{"kind": "Frobnicate", "table": "x"}]),
        "operation #1: unknown operation kind 'Frobnicate'",
        id="unknown-kind",
    ),
    pytest.param(
        {k: v for k, v in valid().items() if k != "snapshot_after"},
        "missing key(s) 'snapshot_after'",
        id="missing-file-key",
    ),
    pytest.param(
        valid(operations=[{"kind": "AddColumn", "table": "t"}]),
        "operation #1: AddColumn: missing key 'column'",
        id="missing-operation-key",
    ),
    pytest.param(
        valid(operations=[{"kind": "DropTable", "table": "t", "cascade": True}]),
        "operation #1: DropTable: unknown key(s) cascade",
        id="unknown-operation-key",
    ),
    pytest.param(valid(colour="red"), "unknown key(s) 'colour'", id="unknown-file-key"),
    pytest.param(
        valid(mid="0002_other"),
        "id '0002_other' does not match the file name",
        id="id-vs-file-name",
    ),
    pytest.param(
        valid(plugin="shop"),
        "plugin 'shop' does not match its directory's plugin 'blog'",
        id="plugin-vs-directory",
    ),
    pytest.param(valid(umbral=2), "unsupported format version 2", id="format-version"),
    pytest.param(
        valid(depends_on="blog/0001"),
        "`depends_on` must be a list of strings",
        id="depends-on-type",
    ),
    pytest.param(
        valid(depends_on=["0001_x"]), "must look like plugin/NNNN_name", id="depends-on-shape"
    ),
    pytest.param(valid(atomic="yes"), "`atomic` must be true or false", id="atomic-type"),
    pytest.param(
        valid(snapshot_after={"models": [{"name": "P", "table": "p", "fields": [], "x": 1}]}),
        "snapshot_after: unknown model attribute(s): x",
        id="bad-snapshot",
    ),
    pytest.param(
        valid(operations=[{"kind": "AddIndex", "table": "t", "columns": "a"}]),
        "AddIndex.columns: expected a non-empty list of strings",
        id="bad-operation-value",
    ),
]


@pytest.mark.parametrize(("content", "problem"), BAD_FILES)
def test_every_validation_error_names_the_file(tmp_path: Path, content: Any, problem: str) -> None:
    path = write(tmp_path / "blog" / "0001_initial.json", content)
    with pytest.raises(MigrationFileError) as exc:
        load_file(path, "blog")
    assert str(exc.value).startswith(f"migration file {path}: ")
    assert problem in str(exc.value)


def test_a_file_name_that_is_not_a_migration_id_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "blog" / "initial.json", valid(mid="initial"))
    with pytest.raises(MigrationFileError, match=r"must look like NNNN_name\.json"):
        load_file(path, "blog")


def test_duplicate_sequence_names_both_files(tmp_path: Path) -> None:
    d = tmp_path / "blog"
    a = write(d / "0001_initial.json", valid())
    write(d / "0002_add_a.json", valid(mid="0002_add_a"))
    b = write(d / "0002_add_b.json", valid(mid="0002_add_b"))
    with pytest.raises(MigrationFileError) as exc:
        load_plugin("blog", d)
    msg = str(exc.value)
    assert "plugin `blog` has two migrations with sequence 0002" in msg
    assert str(d / "0002_add_a.json") in msg and str(b) in msg
    assert str(a) not in msg


def test_load_plugin_sorts_by_id_and_skips_squash_sequence(tmp_path: Path) -> None:
    d = tmp_path / "blog"
    write(d / "0002_b.json", valid(mid="0002_b"))
    write(d / "0001_a.json", valid(mid="0001_a"))
    # The squash's own leading number repeats one of its sources: not a duplicate.
    squash = valid(mid="0001_a_squashed_0002_b", replaces=["blog/0001_a", "blog/0002_b"])
    write(d / "0001_a_squashed_0002_b.json", squash)
    assert [m.id for m in load_plugin("blog", d)] == ["0001_a", "0001_a_squashed_0002_b", "0002_b"]
    assert load_plugin("blog", tmp_path / "absent") == []


def test_a_bad_file_anywhere_fails_the_whole_plugin(tmp_path: Path) -> None:
    d = tmp_path / "blog"
    write(d / "0001_a.json", valid(mid="0001_a"))
    bad = write(d / "0002_b.json", "{")
    with pytest.raises(MigrationFileError, match=re.escape(f"migration file {bad}")):
        load_plugin("blog", d)
