"""The progress bar appears on a terminal and stays out of pipes (SPEC §8)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from conftest import Project, clean_env


def _migrations(p: Project, n: int) -> None:
    body = ""
    for i in range(n):
        body += f"class T{i}(Model):\n    name = fields.Text()\n"
        p.models(body)
        assert p.run("makemigrations").code == 0


def test_progress_bar_on_a_terminal(project: Project) -> None:
    p = project
    _migrations(p, 3)
    main, sub = pty.openpty()
    proc = subprocess.run(
        [sys.executable, "-m", "umbral", "migrate"],
        cwd=p.root,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=sub,
        timeout=60,
    )
    os.close(sub)
    chunks = []
    while True:
        try:
            data = os.read(main, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    shown = b"".join(chunks).decode()
    assert proc.returncode == 0
    assert proc.stdout.decode().splitlines() == ["Applied 3 migration(s)"]
    assert "[" + "#" * 30 + "] 3/3 app/0003_create_t2" in shown
    assert "0/3 app/0001_create_t0" in shown


def test_no_progress_bar_in_a_pipe(project: Project) -> None:
    p = project
    _migrations(p, 2)
    r = p.run("migrate")
    assert r.code == 0, r
    assert r.stderr == ""
    assert r.out_lines == ["Applied 2 migration(s)"]
