"""Table and index names (SPEC §2, §6)."""

from __future__ import annotations

import pytest

from umbral import Model, fields
from umbral.models import build_snapshots
from umbral.naming import fit_identifier, index_name, junction_table, snake_case, table_name


@pytest.mark.parametrize(
    ("class_name", "expected"),
    [
        ("Post", "post"),
        ("BlogPost", "blog_post"),
        ("HTTPRequest", "http_request"),
        ("S3Upload", "s3_upload"),
        ("Post2", "post2"),
        ("APIKey", "api_key"),
        ("UserHTTPLog", "user_http_log"),
        ("URL", "url"),
    ],
)
def test_snake_case(class_name: str, expected: str) -> None:
    assert snake_case(class_name) == expected


@pytest.mark.parametrize(
    ("class_name", "plugin", "expected"),
    [
        ("BlogPost", None, "blog_post"),
        ("BlogPost", "app", "blog_post"),  # the implicit plugin gets no prefix
        ("Author", "blog", "blog_author"),
        ("HTTPRequest", "audit", "audit_http_request"),
    ],
)
def test_table_name(class_name: str, plugin: str | None, expected: str) -> None:
    assert table_name(class_name, plugin) == expected


def test_model_table_names_from_class_keywords() -> None:
    class HTTPRequest(Model, plugin="audit"):
        path = fields.Text()

    class S3Upload(Model):
        key = fields.Text()

    class AppThing(Model, plugin="app"):
        x = fields.Integer()

    class Legacy(Model, plugin="blog", table="old_posts"):
        x = fields.Integer()

    assert HTTPRequest._meta.table == "audit_http_request"
    assert S3Upload._meta.table == "s3_upload"
    assert AppThing._meta.table == "app_thing"
    # An explicit table= wins over the plugin prefix.
    assert Legacy._meta.table == "old_posts"
    snaps = build_snapshots({"blog": [Legacy]})
    assert snaps["blog"].models["Legacy"].table == "old_posts"


def test_index_and_junction_names() -> None:
    assert index_name("blog_post", ["status"], False) == "idx_blog_post_status"
    assert index_name("blog_post", ("author", "slug"), True) == "uniq_blog_post_author_slug"
    assert junction_table("blog_post", "tags") == "blog_post_tags"


COLUMN = {"name": "slug", "type": "Text", "primary_key": False, "nullable": False}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"kind": "CreateTable", "table": "post", "columns": [COLUMN]}, "create_post"),
        ({"kind": "DropTable", "table": "post"}, "drop_post"),
        ({"kind": "AddColumn", "table": "post", "column": COLUMN}, "add_post_slug"),
        ({"kind": "DropColumn", "table": "post", "column": "slug"}, "drop_post_slug"),
        (
            {
                "kind": "AlterColumn",
                "table": "post",
                "column": "slug",
                "from": COLUMN,
                "to": {**COLUMN, "nullable": True},
            },
            "alter_post_slug",
        ),
        ({"kind": "RenameTable", "from": "post", "to": "entry"}, "rename_post_to_entry"),
        (
            {"kind": "RenameColumn", "table": "post", "from": "slug", "to": "path"},
            "rename_post_slug_to_path",
        ),
        ({"kind": "AddIndex", "table": "post", "columns": ["a", "b"]}, "add_index_post_a_b"),
        ({"kind": "DropIndex", "table": "post", "columns": ["a"]}, "drop_index_post_a"),
        ({"kind": "SetColumnComment", "table": "post", "column": "slug"}, "comment_post_slug"),
        ({"kind": "RunSql", "sql": "SELECT 1"}, "run_sql"),
        ({"kind": "RunPython", "code": "app.m:forward"}, "run_python"),
        ({"kind": "DropM2MTable", "table": "post_tags"}, "auto"),
    ],
)
def test_a_single_operation_names_its_migration(raw: dict, expected: str) -> None:
    from umbral.migration import suffix_for
    from umbral.operations import Operation

    operation = Operation.from_dict(raw)
    assert suffix_for([operation]) == expected
    assert suffix_for([operation, operation]) == "auto"
    assert suffix_for([]) == "auto"


def test_a_name_within_the_limit_is_kept_whole() -> None:
    name = "idx_" + "t" * 59  # 63 bytes
    assert fit_identifier(name, 63) == name
    assert fit_identifier(name + "x" * 100, None) == name + "x" * 100


def test_a_longer_name_is_its_start_and_a_digest_of_it() -> None:
    a = "idx_" + "t" * 56 + "_reminder_sent_at"
    b = "idx_" + "t" * 56 + "_reminder_seen_at"
    assert a[:63] == b[:63]  # PostgreSQL's own cut made these one name
    fa, fb = fit_identifier(a, 63), fit_identifier(b, 63)
    assert fa != fb
    assert len(fa) == len(fb) == 63
    assert fa.startswith(a[:54] + "_")
    assert fit_identifier(a, 63) == fa  # the same name every time


def test_the_limit_counts_bytes_or_characters() -> None:
    name = "idx_" + "é" * 40  # 44 characters, 84 bytes
    in_bytes = fit_identifier(name, 63)
    assert len(in_bytes.encode()) <= 63
    assert in_bytes.encode().decode() == in_bytes  # never a character cut in two
    assert fit_identifier(name, 64, in_bytes=False) == name
