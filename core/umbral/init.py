"""``umbral init``: a starter configuration (written with tomli-w) and a models module."""

from __future__ import annotations

from pathlib import Path

from umbral.errors import ConfigError

MODELS_TEMPLATE = '''"""This project's models: they form the `app` plugin."""

from umbral import Model, fields


class Note(Model):
    title = fields.Text(max_length=200)
    body = fields.Text(default="")
    created_at = fields.Timestamptz(auto_now_add=True)
'''


# tomli-w writes no comments: the `plugins` key and what it means are appended as text.
PLUGINS_BLOCK = """\
# App plugins (installed distributions that bring models and migrations) in this project.
# [] keeps every installed one out; name the ones to use, e.g. plugins = ["accounts"].
# Without this key, every installed app plugin joins the project.
plugins = []
"""


def init_project(directory: Path, *, pyproject: bool, database: str) -> list[str]:
    import tomli_w

    from umbral.config import config_in

    directory = directory.resolve()
    if not directory.is_dir():
        raise ConfigError(f"umbral init: no such directory {directory}")
    if config_in(directory):
        raise ConfigError(
            f"umbral init: {directory} already has an umbral configuration; edit it instead"
        )
    settings = {"database": database, "models": ["models"], "migrations": "migrations"}
    lines: list[str] = []
    if pyproject:
        path = directory / "pyproject.toml"
        # Never round-trip pyproject.toml through a TOML writer: comments would be lost.
        # Append a [tool.umbral] table as text instead.
        block = tomli_w.dumps({"tool": {"umbral": settings}}) + PLUGINS_BLOCK
        existing = path.read_text(encoding="utf-8") if path.exists() else ""
        sep = (
            ""
            if not existing or existing.endswith("\n\n")
            else ("\n" if existing.endswith("\n") else "\n\n")
        )
        path.write_text(existing + sep + block, encoding="utf-8")
        lines.append(f"Wrote [tool.umbral] to {path}")
    else:
        path = directory / "umbral.toml"
        path.write_text(tomli_w.dumps(settings) + PLUGINS_BLOCK, encoding="utf-8")
        lines.append(f"Wrote {path}")
    models = directory / "models.py"
    if models.exists():
        lines.append(f"Kept existing {models}")
    else:
        models.write_text(MODELS_TEMPLATE, encoding="utf-8")
        lines.append(f"Wrote {models}")
    lines.append("Next: umbral makemigrations && umbral migrate")
    return lines
