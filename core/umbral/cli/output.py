"""Printing helpers and the error boundary of every command."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import typer

from umbral.cli import interrupt
from umbral.errors import UmbralError

#: Colour off for this process (``--no-color``); ``NO_COLOR`` and a stream that is not a
#: terminal turn it off too (https://no-color.org).
NO_COLOR_FLAG = False

#: ANSI styles by meaning, so commands say what a piece of text is, not how it looks.
STYLES = {
    "error": "1;31", "warning": "1;33", "note": "36",
    "[X]": "32", "[ ]": "33", "[!]": "31", "[?]": "35", "[~]": "31", "[-]": "36", "[/]": "31",
    "UNSAFE": "1;31", "WARNING": "1;33", "SAFE": "32",
}  # fmt: skip


def colored(stream: Any) -> bool:
    if NO_COLOR_FLAG or os.environ.get("NO_COLOR"):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def paint(text: str, meaning: str, stream: Any = None) -> str:
    """``text`` in the style of ``meaning`` when ``stream`` (default stdout) shows colour."""
    code = STYLES.get(meaning)
    if code is None or not colored(stream if stream is not None else sys.stdout):
        return text
    return f"\x1b[{code}m{text}\x1b[0m"


def out(line: str = "", flush: bool = False) -> None:
    sys.stdout.write(line + "\n")
    if flush:  # a pipe (a CI log) holds lines back until exit otherwise
        sys.stdout.flush()


def err(line: str) -> None:
    head, sep, rest = line.partition(":")
    if sep and head in ("error", "warning", "note"):
        line = paint(head + ":", head, sys.stderr) + rest
    sys.stderr.write(line + "\n")


def run_command(opts: dict, body: Callable[[], Any]) -> None:
    """Run a command body; user errors become one ``error:`` line and exit 1 (SPEC §12)."""
    try:
        code = body()
    except (typer.Exit, BrokenPipeError):
        # A closed output pipe (`umbral showmigrations | head`) is not an error of ours: the
        # CLI library ends the process quietly with status 1.
        raise
    except Exception as exc:
        if interrupt.happened():
            # Ctrl-C, surfacing as the error of what it stopped (an interrupted statement, a
            # clean-up on a connection it left half-used): the top level reports it.
            raise KeyboardInterrupt from exc
        if opts.get("traceback"):
            raise
        if isinstance(exc, UmbralError):
            err(f"error: {exc}")
            for line in exc.details:
                err(line)
        else:
            err(
                f"error: internal error: {type(exc).__name__}: {exc} "
                "(re-run with --traceback and report it)"
            )
        raise typer.Exit(1) from None
    sys.stdout.flush()
    raise typer.Exit(code or 0)


#: Whether a progress bar's line is on the terminal, not yet ended (see ``end_line``).
_bar_shown = False


def end_line() -> None:
    """End the line of a progress bar left on the terminal (before an interrupt's message)."""
    global _bar_shown
    if _bar_shown:
        sys.stderr.write("\n")
        _bar_shown = False


class Progress:
    """A one-line progress bar on stderr, shown only when stderr is a terminal."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.shown = False

    def update(self, kind: str, data: dict) -> None:
        if not self.enabled or kind not in ("start", "done", "skipped"):
            return
        total = max(int(data.get("total", 1)), 1)
        index = int(data.get("index", 0)) - (1 if kind == "start" else 0)
        width = 30
        filled = width * index // total
        bar = "#" * filled + "." * (width - filled)
        sys.stderr.write(f"\r[{bar}] {index}/{total} {data.get('migration', '')}\x1b[K")
        sys.stderr.flush()
        self._show(True)

    def _show(self, shown: bool) -> None:
        global _bar_shown
        self.shown = _bar_shown = shown

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            self._show(False)

    def finish(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            self._show(False)
