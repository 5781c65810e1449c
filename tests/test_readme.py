"""The README's samples run as written: every ``python`` block, and every ``bash`` block
line by line in a shell, in a fresh directory with a fresh SQLite store.

What is not run is listed in ``NOT_RUN`` with the reason (it runs until stopped, or
needs a host the test does not have) and is covered by the test named there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)

NOT_RUN = {
    "./scripts/demo": "serves until stopped; test_cli.py builds the same demo",
    "./scripts/test": "the suite itself",
    "chronolog serve": "serves until stopped; test_http_e2e.py runs a real server",
    "chronolog tui": "interactive; test_tui_tmux.py drives it in tmux",
}
"""Line prefixes the test does not execute, and why."""


def _blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(README.read_text()) if lang == language]


def _commands(block: str) -> list[str]:
    """A bash block's commands: one a line, a here-document kept with its command."""
    commands: list[str] = []
    lines = iter(block.splitlines())
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        heredoc = re.search(r"<<'?(\w+)'?", line)
        if heredoc:
            end = heredoc.group(1)
            body = [line]
            for more in lines:
                body.append(more)
                if more.strip() == end:
                    break
            commands.append("\n".join(body))
        else:
            commands.append(line)
    return commands


def test_the_python_samples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CHRONOLOG_DB", raising=False)
    blocks = _blocks("python")
    assert len(blocks) >= 4
    code = "\n".join(blocks)
    namespace: dict[str, object] = {"__name__": "readme"}
    exec(compile(code, str(README), "exec"), namespace)  # the README's own code
    assert (tmp_path / "app.db").exists()


def test_the_shell_samples_run(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "USER": "readme",
        "COLUMNS": "120",
    }
    for name in ("CHRONOLOG_DB", "CHRONOLOG_PROJECT", "CHRONOLOG_SERVER", "CHRONOLOG_TOKEN"):
        env.pop(name, None)
    ran = 0
    for block in _blocks("bash"):
        for command in _commands(block):
            if any(command.startswith(prefix) for prefix in NOT_RUN):
                continue
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", command],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, f"README: {command}\n{done.stdout}\n{done.stderr}"
            ran += 1
    assert ran >= 20
    # What the samples did is in the store.
    from chronolog import Chronolog

    with Chronolog(f"sqlite:///{tmp_path / 'chronolog.db'}") as cl:
        assert cl.states.get("movie", "tt0133093").state == "missing"
        assert cl.jobs.get(1).state == "completed"
        assert "media" in {p.name for p in cl.projects.list()}
