"""Lazy startup: help works anywhere and imports no database or heavy UI library (SPEC §12)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Project, clean_env, run_umbral

SPEC_COMMANDS = [
    "init",
    "makemigrations",
    "migrate",
    "showmigrations",
    "checkmigrations",
    "squashmigrations",
    "sqlmigrate",
    "inspectdb",
    "plugins",
]
HEAVY = ("sqlalchemy", "psycopg", "psycopg2", "alembic", "alembic_utils", "pydantic", "rich")


def probe_script(report: str) -> str:
    """A script that runs ``umbral ARGS`` in this interpreter, then ``report`` (Python that
    writes ``MARKER=value`` on stderr; ``frozen_before`` is the freeze count before the command),
    and exits with the command's exit code."""
    return f"""
import gc, sys
sys.argv = ["umbral", *sys.argv[1:]]
from umbral.cli.main import main
frozen_before = gc.get_freeze_count()
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
{report}
sys.exit(code)
"""


PROBE = probe_script(
    f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
    "sys.stderr.write('HEAVY=' + ','.join(heavy) + '\\n')"
)


def run_probe(script: str, marker: str, cwd: Path, *args: str) -> tuple[int, str, str]:
    """Run ``script`` as ``umbral ARGS``; its exit code, stdout, and the value it wrote on
    stderr after ``MARKER=``."""
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [line for line in proc.stderr.splitlines() if line.startswith(f"{marker}=")]
    assert lines, proc.stderr
    return proc.returncode, proc.stdout, lines[-1].removeprefix(f"{marker}=")


def probe(cwd: Path, *args: str) -> tuple[int, str, list[str]]:
    code, stdout, value = run_probe(PROBE, "HEAVY", cwd, *args)
    return code, stdout, [m for m in value.split(",") if m]


def test_help_in_an_empty_directory_imports_nothing_heavy(tmp_path: Path) -> None:
    code, stdout, heavy = probe(tmp_path, "--help")
    assert code == 0
    assert "Usage: umbral" in stdout
    for command in ("makemigrations", "migrate", "showmigrations", "plugins"):
        assert command in stdout
    assert heavy == []
    assert list(tmp_path.iterdir()) == []


def test_command_help_imports_nothing_heavy(tmp_path: Path) -> None:
    code, stdout, heavy = probe(tmp_path, "migrate", "--help")
    assert code == 0
    assert "--fake-initial" in stdout
    # typer itself may load pydantic to describe a command's parameters; no database layer.
    assert [m for m in heavy if m != "pydantic"] == []


def test_help_under_importtime_does_not_load_sqlalchemy(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "umbral", "--help"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "umbral" in imported  # the probe really saw the imports
    assert not imported & set(HEAVY)


@pytest.mark.parametrize("command", SPEC_COMMANDS)
def test_every_command_help_works_without_a_project(tmp_path: Path, command: str) -> None:
    r = run_umbral(command, "--help", cwd=tmp_path)
    assert r.code == 0, r
    assert f"Usage: umbral {command}" in r.stdout
    assert r.stderr == ""
    assert list(tmp_path.iterdir()) == []


FREEZE_PROBE = probe_script(
    'sys.stderr.write(f"FROZEN={frozen_before},{gc.get_freeze_count()},{int(gc.isenabled())}\\n")'
)


@pytest.mark.parametrize("args", [("--help",), ("makemigrations", "--check")])
def test_the_cli_runs_without_the_cyclic_collector_and_leaves_it_nothing_at_exit(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    """No collection walks the imported libraries during a command, and everything alive when
    it ends is frozen, so the interpreter's final collection skips it (whatever the exit code:
    --check exits 1 without a project)."""
    _, _, value = run_probe(FREEZE_PROBE, "FROZEN", tmp_path, *args)
    before, after, enabled = (int(n) for n in value.split(","))
    assert before == 0
    # Everything the run built is frozen: the modules it imported at the least.
    assert after > 10_000, after
    assert enabled == 0  # the command ran without the cyclic collector


OPERATIONS_PROBE = probe_script(
    "sys.stderr.write('OPS=' + str('umbral.operations' in sys.modules) + '\\n')"
)


def test_showmigrations_from_cached_files_builds_no_operation(project: Project) -> None:
    """Telling applied from pending needs each file's id, dependencies and checksum, which the
    validation cache holds: no operation is parsed, and their classes (a tenth of the command's
    own time to define) are never imported."""
    p = project
    p.models(
        """
        class Post(Model):
            title = fields.Text()
        """
    )
    assert p.run("makemigrations").code == 0
    assert p.run("migrate").code == 0
    for path in (p.root / "migrations").rglob("*.json"):
        old = path.stat().st_mtime_ns - 60 * 10**9  # older than the cache's racy window
        os.utime(path, ns=(old, old))
    assert p.run("showmigrations").code == 0  # validates the files and caches them
    code, stdout, imported = run_probe(OPERATIONS_PROBE, "OPS", p.root, "showmigrations")
    assert (code, stdout) == (0, "# plugin: app\n[X] app/0001_create_post\n")
    assert imported == "False"
    # A file the cache does not know is parsed whole, operations included.
    (p.root / "migrations").joinpath("app", "0001_create_post.json").touch()
    assert run_probe(OPERATIONS_PROBE, "OPS", p.root, "showmigrations")[2] == "True"


MODELS_PROBE = probe_script(
    "sys.stderr.write('MODELS=' + str('umbral.models' in sys.modules) + '\\n')"
)


def test_commands_that_need_no_model_import_no_model_machinery(project: Project) -> None:
    """showmigrations and migrate order the graph by the files' `depends_on` and the plugins'
    declared dependencies: neither the project's models nor umbral's model classes (the
    `Model` metaclass and every field type) are imported."""
    p = project
    p.models("class Post(Model):\n    title = fields.Text()\n")
    assert p.run("makemigrations").code == 0
    for args in (("showmigrations",), ("migrate",), ("migrate", "--plan")):
        code, _, imported = run_probe(MODELS_PROBE, "MODELS", p.root, *args)
        assert (code, imported) == (0, "False"), args
    # makemigrations needs them, and the probe sees it.
    assert run_probe(MODELS_PROBE, "MODELS", p.root, "makemigrations", "--check")[2] == "True"


BACKENDS_PROBE = probe_script(
    "built = [m for m in ('umbral_sqlite.backend', 'umbral_postgres.backend', "
    "'umbral_mysql.backend') if m in sys.modules]\n"
    "sys.stderr.write('BACKENDS=' + ','.join(built) + '\\n')"
)


def test_a_command_builds_only_the_backend_its_database_needs(project: Project) -> None:
    """Every backend plugin is loaded, but only the one serving the database's scheme builds
    (and imports) its backend: the others answer ``umbral_backends(scheme=...)`` empty."""
    p = project
    assert p.database.startswith("sqlite")
    code, _, built = run_probe(BACKENDS_PROBE, "BACKENDS", p.root, "showmigrations")
    assert (code, built) == (0, "umbral_sqlite.backend")
    code, _, built = run_probe(BACKENDS_PROBE, "BACKENDS", p.root, "sqlmigrate", "app/0001_x")
    assert code == 1 and built == "umbral_sqlite.backend"


def test_each_backend_plugin_declares_its_backends_schemes() -> None:
    from umbral_mysql import plugin as mysql_plugin
    from umbral_mysql.backend import MySQLBackend
    from umbral_postgres import plugin as postgres_plugin
    from umbral_postgres.backend import PostgresBackend

    assert PostgresBackend.schemes == postgres_plugin.SCHEMES
    assert MySQLBackend.schemes == mysql_plugin.SCHEMES
