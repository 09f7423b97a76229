"""``graph``: the merged migration graph of every plugin, as Mermaid or Graphviz dot."""

from __future__ import annotations

from typing import Annotated

import typer

from umbral.cli.common import Body, command, load_app, note_missing_database
from umbral.cli.output import err, out


@command
def graph_cmd(
    opts: dict,
    fmt: Annotated[
        str, typer.Option("--format", metavar="mermaid|dot", help="Output format.")
    ] = "mermaid",
    plugin: Annotated[
        str | None,
        typer.Option("--plugin", help="Only this plugin (and what its migrations depend on)."),
    ] = None,
    no_state: Annotated[
        bool, typer.Option("--no-state", help="Do not read the database for states.")
    ] = False,
) -> Body:
    """Print the migration graph of every plugin (Mermaid or Graphviz dot)."""
    if fmt not in ("mermaid", "dot"):
        raise typer.BadParameter(f"{fmt!r} is not one of 'mermaid', 'dot'", param_hint="--format")

    def body() -> int:
        from umbral import graphviz

        app = load_app(opts)
        result = app.graph(plugin, states=not no_state)
        if not no_state and not result.unread:
            note_missing_database(app)
        if result.unread:
            err(f"warning: umbral graph: states not shown: {result.unread}")
        render = graphviz.mermaid if fmt == "mermaid" else graphviz.dot
        out(render(result.nodes, result.edges))
        return 0

    return body
