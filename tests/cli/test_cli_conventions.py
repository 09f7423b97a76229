"""CLI conventions users expect: ``--version`` and shell completion."""

from __future__ import annotations

from pathlib import Path

from conftest import clean_env, run_umbral


def test_version_lists_core_and_every_plugin_distribution(tmp_path: Path) -> None:
    r = run_umbral("--version", cwd=tmp_path)
    assert r.code == 0, r
    names = [line.split()[0] for line in r.out_lines]
    assert names[0] == "umbral-core"
    # The backends and app plugins installed in this environment, each once, with a version.
    assert {"umbral-sqlite", "umbral-postgres", "umbral-accounts", "umbral-blog"} <= set(names)
    assert len(names) == len(set(names))
    assert all(line.split()[1][0].isdigit() for line in r.out_lines), r


def test_completion_script_and_completions(tmp_path: Path) -> None:
    # The shell named explicitly: typer otherwise detects it from the parent processes, which
    # need not include a shell under a test runner.
    env = clean_env(_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    r = run_umbral("--show-completion", "bash", cwd=tmp_path, env=env)
    assert r.code == 0, r
    assert "_umbral_completion" in r.stdout
    env = clean_env(_UMBRAL_COMPLETE="complete_bash", COMP_WORDS="umbral check", COMP_CWORD="1")
    r = run_umbral(cwd=tmp_path, env=env)
    assert r.code == 0, r
    assert set(r.out_lines) == {"checkmigrations", "checkschema"}


def _on_a_terminal(args: list[str], cwd: Path, **env: str) -> str:
    """Run umbral with stdout and stderr on a pseudo-terminal; return what it showed."""
    import os
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    subprocess.run(
        [sys.executable, "-m", "umbral", *args],
        cwd=cwd,
        env=clean_env(**env),
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        timeout=60,
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the other end is closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return shown.decode()


def test_colour_on_a_terminal_and_how_to_turn_it_off(tmp_path: Path) -> None:
    (tmp_path / "umbral.toml").write_text(
        'database = "sqlite:///db.sqlite3"\nmodels = ["models"]\nplugins = []\n'
    )
    (tmp_path / "models.py").write_text(
        "from umbral import Model, fields\n\nclass Post(Model):\n    title = fields.Text()\n"
    )
    assert run_umbral("makemigrations", cwd=tmp_path).code == 0
    shown = _on_a_terminal(["showmigrations"], tmp_path)
    assert "\x1b[33m[ ]\x1b[0m app/" in shown  # a pending marker, coloured
    error = _on_a_terminal(["migrate", "app/nope"], tmp_path)
    assert error.startswith("\x1b[1;31merror:\x1b[0m umbral migrate:")
    for plain in (
        _on_a_terminal(["showmigrations", "--no-color"], tmp_path),
        _on_a_terminal(["--no-color", "migrate", "app/nope"], tmp_path),
        _on_a_terminal(["showmigrations"], tmp_path, NO_COLOR="1"),
    ):
        assert "\x1b[" not in plain, plain
    # Not a terminal: never coloured (every other test reads plain text this way).
    assert "\x1b[" not in run_umbral("showmigrations", cwd=tmp_path).stdout
