"""The merged migration graph as text: Mermaid (default) or Graphviz dot. Pure.

One node per migration on disk (and per tracking row whose file is gone, when states are
known), grouped by plugin; an edge from each dependency to its dependent. With states, each node
carries its drift marker and a style per state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from umbral.migration import Migration
from umbral.values import frozen

#: Fill colours per drift state label, shared by both formats.
COLOURS = {
    "applied": "#c8e6c9",
    "pending": "#fff9c4",
    "missing": "#ffcdd2",
    "out_of_order": "#ffe0b2",
    "edited": "#e1bee7",
}


@frozen
class Node:
    key: str  # plugin/id
    plugin: str
    label: str
    state: str | None = None  # a drift state label, or None when no database was read
    marker: str = ""
    external: bool = False  # another plugin's migration shown because a focused one needs it


def build(
    migrations: Iterable[Migration],
    states: Mapping[str, tuple[str, str]] | None = None,
    plugin: str | None = None,
) -> tuple[list[Node], list[tuple[str, str]]]:
    """Nodes and edges; ``states`` maps ``plugin/id`` to ``(label, marker)``; ``plugin`` keeps
    that plugin's migrations and the other plugins' migrations they depend on."""
    ms = sorted(migrations, key=lambda m: (m.plugin, m.id))
    by_key = {m.key: m for m in ms}
    keep = {m.key for m in ms if plugin is None or m.plugin == plugin}
    needed = {d for k in keep for d in by_key[k].depends_on} - keep
    nodes: list[Node] = []
    for m in ms:
        if m.key in keep or m.key in needed:
            label, marker = (states or {}).get(m.key, (None, ""))
            nodes.append(Node(m.key, m.plugin, m.id, label, marker, m.key not in keep))
    for key, (label, marker) in sorted((states or {}).items()):
        p, name = key.split("/", 1)
        if key not in by_key and (plugin is None or p == plugin):
            nodes.append(Node(key, p, name, label, marker))
    shown = {n.key for n in nodes}
    edges = [(dep, m.key) for m in ms if m.key in keep for dep in m.depends_on if dep in shown]
    return nodes, edges


def _ident(key: str) -> str:
    return "m_" + "".join(ch if ch.isalnum() else "_" for ch in key)


def mermaid(nodes: list[Node], edges: list[tuple[str, str]]) -> str:
    lines = ["flowchart TD"]
    for plugin in sorted({n.plugin for n in nodes}):
        lines.append(f'  subgraph {_ident(plugin)}["{plugin}"]')
        for n in (n for n in nodes if n.plugin == plugin):
            text = f"{n.marker} {n.label}" if n.marker else n.label
            lines.append(f'    {_ident(n.key)}["{text}"]')
        lines.append("  end")
    lines += [f"  {_ident(a)} --> {_ident(b)}" for a, b in edges]
    used = sorted({n.state for n in nodes if n.state})
    for state in used:
        lines.append(f"  classDef {state} fill:{COLOURS[state]},stroke:#555")
        members = ",".join(_ident(n.key) for n in nodes if n.state == state)
        lines.append(f"  class {members} {state}")
    external = [_ident(n.key) for n in nodes if n.external]
    if external:
        lines.append("  classDef external stroke-dasharray:4 3")
        lines.append(f"  class {','.join(external)} external")
    return "\n".join(lines)


def dot(nodes: list[Node], edges: list[tuple[str, str]]) -> str:
    lines = ["digraph umbral {", "  rankdir=TB;", '  node [shape=box, fontname="sans-serif"];']
    for plugin in sorted({n.plugin for n in nodes}):
        lines.append(f'  subgraph "cluster_{plugin}" {{')
        lines.append(f'    label="{plugin}";')
        for n in (n for n in nodes if n.plugin == plugin):
            text = f"{n.marker} {n.label}" if n.marker else n.label
            attrs = [f'label="{text}"']
            styles = (["filled"] if n.state else []) + (["dashed"] if n.external else [])
            if styles:
                attrs.append(f'style="{",".join(styles)}"')
            if n.state:
                attrs.append(f'fillcolor="{COLOURS[n.state]}"')
            lines.append(f'    "{n.key}" [{", ".join(attrs)}];')
        lines.append("  }")
    lines += [f'  "{a}" -> "{b}";' for a, b in edges]
    lines.append("}")
    return "\n".join(lines)
