"""``umbral graph``: the merged migration graph as Mermaid or Graphviz dot, with states."""

from __future__ import annotations

from pathlib import Path

from conftest import Project, sqlite_path

POST = "class Post(Model):\n    title = fields.Text()\n"


def _history(p: Project) -> list[str]:
    p.models(POST)
    assert p.run("makemigrations", "--name", "create_post").code == 0
    p.models(POST + "    slug = fields.Text(nullable=True)\n")
    assert p.run("makemigrations", "--name", "add_slug").code == 0
    return [f.removesuffix(".json") for f in p.migration_files()]


def test_mermaid_with_states(project: Project) -> None:
    p = project
    first, second = _history(p)
    assert p.run("migrate", f"app/{first}").code == 0
    r = p.run("graph")
    assert r.code == 0, r
    assert r.out_lines == [
        "flowchart TD",
        '  subgraph m_app["app"]',
        f'    m_app_{first}["[X] {first}"]',
        f'    m_app_{second}["[ ] {second}"]',
        "  end",
        f"  m_app_{first} --> m_app_{second}",
        "  classDef applied fill:#c8e6c9,stroke:#555",
        f"  class m_app_{first} applied",
        "  classDef pending fill:#fff9c4,stroke:#555",
        f"  class m_app_{second} pending",
    ]


def test_dot_without_states(project: Project) -> None:
    p = project
    first, second = _history(p)
    r = p.run("graph", "--format", "dot", "--no-state")
    assert r.code == 0, r
    assert r.out_lines == [
        "digraph umbral {",
        "  rankdir=TB;",
        '  node [shape=box, fontname="sans-serif"];',
        '  subgraph "cluster_app" {',
        '    label="app";',
        f'    "app/{first}" [label="{first}"];',
        f'    "app/{second}" [label="{second}"];',
        "  }",
        f'  "app/{first}" -> "app/{second}";',
        "}",
    ]
    assert not Path(sqlite_path(p.database)).exists()  # --no-state never opens the database


PLUGIN = """
from umbral import Model, fields, hookimpl


class Tag(Model, plugin="tags"):
    label = fields.Text()


@hookimpl
def umbral_models():
    return [Tag]
"""


def test_plugin_focus_shows_what_it_depends_on(project: Project) -> None:
    p = project
    p.write("tags_plugin.py", PLUGIN)
    p.write_config(plugins=["tags"], plugin_modules={"tags": "tags_plugin"})
    p.models(POST + "    tag = fields.ForeignKey('tags.Tag', nullable=True)\n")
    assert p.run("makemigrations").code == 0
    tags = p.migration_files("tags")[0].removesuffix(".json")
    app = p.migration_files("app")[0].removesuffix(".json")
    r = p.run("graph", "--plugin", "app", "--no-state")
    assert r.code == 0, r
    assert f"  m_tags_{tags} --> m_app_{app}" in r.out_lines
    assert r.out_lines[-2:] == [
        "  classDef external stroke-dasharray:4 3",
        f"  class m_tags_{tags} external",
    ]
    r = p.run("graph", "--plugin", "tags", "--no-state")
    assert "m_app_" not in r.stdout
    r = p.run("graph", "--plugin", "nope")
    assert r.code == 1 and r.err_lines[0].startswith("error: no plugin named `nope`"), r


def test_an_unreachable_database_shows_no_states(project: Project) -> None:
    p = project
    _history(p)
    r = p.run("graph", "--database", "postgresql://nobody@127.0.0.1:1/none")
    assert r.code == 0, r
    assert r.err_lines[0].startswith("warning: umbral graph: states not shown: cannot connect")
    assert "[X]" not in r.stdout and "classDef" not in r.stdout


def test_an_unknown_format_is_a_usage_error(project: Project) -> None:
    r = project.run("graph", "--format", "svg")
    assert r.code == 2 and "'svg' is not one of 'mermaid', 'dot'" in r.stderr, r
