"""The one-off values of ``makemigrations`` for the rows a NOT NULL column without a default
meets: given as ``--backfill Model.column=VALUE``, or asked for on a terminal, as Django's
"provide a one-off default" does. Prompts go to stderr: stdout stays the command's result."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from umbral.autodetector import BackfillRequest


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)  # NaN, Infinity: no column stores them; taken as text instead


def parse_value(text: str) -> Any:
    """VALUE as JSON (``0``, ``true``, ``"x"``, ``[1]``); bare text is a string."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except ValueError:
        return text


def parse_backfills(values: list[str] | None) -> dict[str, Any]:
    """``--backfill`` values -> ``{"Model.column": value}``; a malformed one is a usage error."""
    out: dict[str, Any] = {}
    for item in values or []:
        key, sep, text = item.partition("=")
        model, dot, column = key.strip().partition(".")
        if not sep or not dot or not model or not column:
            raise typer.BadParameter(f"{item!r} is not Model.column=VALUE")
        value = parse_value(text)
        if key.strip() in out and out[key.strip()] != value:
            raise typer.BadParameter(f"{key.strip()} is given two different values")
        out[key.strip()] = value
    return out


def _read(prompt: str) -> str | None:
    """One line from the terminal; None at end of input (Ctrl-D)."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    return None if line == "" else line.strip()


def ask(request: BackfillRequest) -> Any:
    """Ask for the one-off value of ``request``; None when the user quits (the change is then
    refused with the usual advice)."""
    from umbral.schema import backfill_problem

    col, table = request.column, request.table
    if request.adding:
        sys.stderr.write(
            f"The NOT NULL column `{table}.{col.name}` ({request.key}) is added without a "
            "default: the rows the table already has need a value for it.\n"
        )
    else:
        sys.stderr.write(
            f"`{table}.{col.name}` ({request.key}) becomes NOT NULL without a default: the "
            "rows where it is NULL need a value.\n"
        )
    sys.stderr.write(
        "Please select a fix:\n"
        " 1) Provide a one-off value now (written to the existing rows; not kept as the "
        "column's default)\n"
        " 2) Quit, and change the model (make it nullable or give it a default)\n"
    )
    while True:
        choice = _read("Select an option: ")
        if choice is None or choice == "2":
            return None
        if choice == "1":
            break
        sys.stderr.write("Please select 1 or 2.\n")
    sys.stderr.write(
        f'Enter the value for {request.key} as JSON (0, true, "text"); bare text is taken '
        "as a string.\n"
    )
    while True:
        text = _read(">>> ")
        if text is None:
            return None
        if text == "":
            sys.stderr.write('Please enter a value ("" for an empty string), or Ctrl-D to quit.\n')
            continue
        value = parse_value(text)
        problem = backfill_problem(col, value)
        if problem is None:
            return value
        sys.stderr.write(f"{problem}; please enter another value.\n")
