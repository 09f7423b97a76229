"""Ctrl-C: ``error: interrupted`` on stderr and exit 130, whatever was running (docs/commands.md).

``install`` runs first thing, before the CLI's libraries load, so an interrupt while they import
is reported like any other. The handler notes the interrupt and raises KeyboardInterrupt wherever
the main thread is; the clean-up on the way out (a transaction's rollback on a connection the
interrupt left half-used) may fail in its own way and replace it, so the top level asks
``happened()`` rather than trusting the exception that reaches it.

A statement runs inside the driver with the interpreter's lock released, and the handler would
run only once it is over. A thread woken by the signal itself (``signal.set_wakeup_fd``) stops
it at once through ``umbral.cancel``; psycopg also cancels its query on KeyboardInterrupt.
This module imports nothing heavy: it is loaded before everything else.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import suppress
from typing import Any, NoReturn

_interrupted = False
_installed = False


def install() -> None:
    """Handle SIGINT from now on (once per process; only the main thread may set handlers)."""
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    _installed = True
    # The thread first: starting it waits for it, and an interrupt must not land in that wait.
    read, write = os.pipe()
    try:
        os.set_blocking(write, False)
        threading.Thread(target=_wake, args=(read,), name="umbral-interrupt", daemon=True).start()
        signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    except (ValueError, OSError):  # Windows wants a socket here: statements then run on
        os.close(write)
    signal.signal(signal.SIGINT, _on_interrupt)


def happened() -> bool:
    """Whether this process was interrupted."""
    return _interrupted


def finish() -> None:
    """The command is over: from now on Ctrl-C has nothing to stop, and is ignored (raised
    while the interpreter exits, it would end the process with a traceback)."""
    if _installed:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def exit_interrupted() -> NoReturn:
    """End the progress bar's line, say so, and exit 130 at once.

    Everything was unwound on the way here (transactions rolled back, connections closed). The
    exit skips the interpreter's own: CPython ends a process with SIGINT instead of the
    requested status when the KeyboardInterrupt passed through an ``exec()`` of source text
    (dataclasses make their methods so), even though it was handled. A second Ctrl-C from
    here on is ignored.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    output = sys.modules.get("umbral.cli.output")  # not imported: no bar was drawn
    if output is not None:
        output.end_line()
    sys.stderr.write("error: interrupted\n")
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):  # a closed pipe: nothing more to say there
            stream.flush()
    os._exit(130)


def _on_interrupt(signum: int, frame: Any) -> None:
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt


def _wake(fd: int) -> None:
    """Stop the running statements when SIGINT arrives (runs in its own thread)."""
    while True:
        try:
            data = os.read(fd, 64)
        except OSError:
            return
        if not data:
            return
        if signal.SIGINT in data:
            cancel = sys.modules.get("umbral.cancel")  # not imported: no database is open
            if cancel is not None:
                cancel.cancel_all()
