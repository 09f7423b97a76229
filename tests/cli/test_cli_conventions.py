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
