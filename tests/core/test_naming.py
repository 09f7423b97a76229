"""Table and index names (SPEC §2, §6)."""

from __future__ import annotations

import pytest

from umbral import Model, fields
from umbral.models import build_snapshots
from umbral.naming import index_name, junction_table, snake_case, table_name


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
