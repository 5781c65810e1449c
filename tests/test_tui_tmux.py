"""The real ``chronolog tui`` in a real terminal (tmux, 80x24): keys in, screen text out."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chronolog import Chronolog
from chronolog.examples.rip_pipeline import add_media

from .test_http_e2e import _free_port, _start, _stop
from .tui_pipeline import fill

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (scripts/ensure-tmux installs it)"
)


class Terminal:
    """One detached tmux session running a command."""

    def __init__(self, command: list[str]) -> None:
        self.name = f"chronolog-tui-{os.getpid()}-{time.monotonic_ns()}"
        shell = f"{shlex.join(command)}; echo EXIT:$?; sleep 60"
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", self.name, "-x", "80", "-y", "24", shell],
            check=True,
        )

    def screen(self, escapes: bool = False) -> str:
        flags = ["-p", "-e"] if escapes else ["-p"]
        out = subprocess.run(
            ["tmux", "capture-pane", *flags, "-t", self.name], capture_output=True, text=True
        )
        return out.stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        flags = ["-l"] if literal else []
        subprocess.run(["tmux", "send-keys", "-t", self.name, *flags, *keys], check=True)

    def wait_for(self, check: Callable[[str], bool], timeout: float = 45) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if check(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"the screen never matched; it shows:\n{text}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


_GREYS = {0, 7, 8, 15, 16, 59, 102, 145, 188, 231, *range(232, 256)}


def hues(screen: str) -> set[str]:
    """The colours on ``screen`` (with escapes) that are not a shade of grey."""
    found = set()
    for params in re.findall(r"\x1b\[([0-9;]*)m", screen):
        codes = [int(c) for c in params.split(";") if c]
        i = 0
        while i < len(codes):
            code = codes[i]
            if code in (38, 48) and i + 1 < len(codes) and codes[i + 1] == 5:
                if codes[i + 2] not in _GREYS:
                    found.add(f"{code};5;{codes[i + 2]}")
                i += 3
            elif code in (38, 48) and i + 1 < len(codes) and codes[i + 1] == 2:
                r, g, b = codes[i + 2 : i + 5]
                if not r == g == b:
                    found.add(f"{code};2;{r};{g};{b}")
                i += 5
            else:
                if 31 <= code <= 36 or 41 <= code <= 46 or 91 <= code <= 96 or 101 <= code <= 106:
                    found.add(str(code))
                i += 1
    return found


@pytest.fixture
def terminal(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[Terminal, str]]:
    path = tmp_path / "pipeline.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    fill(url)
    launch = "import sys; from chronolog.cli import main; sys.argv[0] = 'chronolog'; main()"
    # NO_COLOR: the plain-terminal path; the snapshots cover the colours.
    term = Terminal(["env", "NO_COLOR=1", sys.executable, "-c", launch, "tui", "--db", url])
    try:
        yield term, url
    finally:
        term.close()


def test_tui_in_tmux(terminal):
    term, url = terminal
    first = term.wait_for(lambda s: "ACTIVE" in s and "Amélie" in s, timeout=90)  # a busy CI
    assert "Dark season 1" in first
    assert "Heat" not in first  # done: not on the active list
    assert len(first.splitlines()) <= 24
    assert hues(term.screen(escapes=True)) == set()  # NO_COLOR: shades of grey only

    term.keys("Tab")
    term.wait_for(lambda s: "ALL" in s and "Heat" in s)
    term.keys("Tab")
    term.wait_for(lambda s: "ACTIVE" in s and "Heat" not in s)

    # Another process adds a movie: the list shows it without a key press.
    with Chronolog(url) as other:
        add_media(other, "Brazil")
    term.wait_for(lambda s: "Brazil" in s)

    term.keys("/")
    term.wait_for(lambda s: "filter by title" in s)  # the box is up: typing goes there
    term.keys("ame", literal=True)
    term.wait_for(lambda s: 'filter: "ame"' in s)
    term.keys("Enter")  # the box goes: the list starts a line higher
    term.wait_for(lambda s: 'filter: "ame"' in s and s.splitlines()[2].split()[:1] == ["Title"])
    term.keys("Enter")
    detail = term.wait_for(lambda s: "movie/amelie" in s and "[3] transcoding" in s)
    assert "transcode" in detail
    assert "failed" in detail
    term.keys("3")
    term.wait_for(lambda s: "to transcoding?" in s)  # a move asks first
    term.keys("y")
    term.wait_for(lambda s: "State transcoding" in s)
    with Chronolog(url) as cl:
        assert cl.states.get("movie", "amelie").state == "transcoding"

    term.keys("?")
    term.wait_for(lambda s: "Everywhere" in s and "retry" in s)
    term.keys("Escape")  # alone: an Escape followed at once by q reads as Alt+q
    term.wait_for(lambda s: "Everywhere" not in s and "movie/amelie" in s)
    term.keys("q")
    term.wait_for(lambda s: "EXIT:0" in s)


@pytest.fixture
def remote_terminal(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[Terminal, str]]:
    """``chronolog tui --server … --token …`` against a real ``chronolog serve`` process."""
    path = tmp_path / "served.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    fill(url)
    out = tmp_path / "serve.out"
    port = _free_port()
    server = _start(url, port, out)
    try:
        match = re.search(r"chl_[A-Za-z0-9_-]{43}", out.with_suffix(".token").read_text())
        assert match, out.read_text()
        base = f"http://127.0.0.1:{port}"
        launch = "import sys; from chronolog.cli import main; sys.argv[0] = 'chronolog'; main()"
        # The token from the environment, as `worker --server` takes it; no --db at all.
        command = ["env", "NO_COLOR=1", f"CHRONOLOG_TOKEN={match.group(0)}", sys.executable]
        term = Terminal([*command, "-c", launch, "tui", "--server", base])
        try:
            yield term, url
        finally:
            term.close()
    finally:
        _stop(server)


def test_remote_tui_in_tmux(remote_terminal):
    """The seed's workflow through the HTTP service: browse, add a disc, move, retry."""
    term, url = remote_terminal
    first = term.wait_for(lambda s: "ACTIVE" in s and "Amélie" in s, timeout=90)
    assert "Dark season 1" in first

    # Another process writes to the store: the server's feed brings it to the screen.
    with Chronolog(url) as other:
        add_media(other, "Brazil")
    term.wait_for(lambda s: "Brazil" in s)

    term.keys("/")
    term.wait_for(lambda s: "filter by title" in s)  # the box is up: typing goes there
    term.keys("dark", literal=True)
    term.wait_for(lambda s: 'filter: "dark"' in s)
    term.keys("Enter")  # the box goes: the list starts a line higher
    term.wait_for(lambda s: 'filter: "dark"' in s and s.splitlines()[2].split()[:1] == ["Title"])
    term.keys("Enter")
    term.wait_for(lambda s: "season/dark/s01" in s and "1/3 done" in s)
    term.keys("a")  # a disc for this season: the form asks for its number
    term.wait_for(lambda s: "disc" in s and "Title" in s)
    term.keys("4")
    term.keys("Enter")
    term.wait_for(lambda s: "season/dark/s01" in s and "1/4 done" in s)
    with Chronolog(url) as cl:
        disc = cl.states.get("disc", "dark/s01/d4")
        assert (disc.parent, disc.state, disc.attributes) == (
            ("season", "dark/s01"),
            "pending",
            {"disc": 4},
        )

    term.keys("Escape")
    term.wait_for(lambda s: "ACTIVE" in s and "season/dark/s01" not in s)
    term.keys("Escape")  # clears the filter (and alone: Escape then "/" would read as Alt+/)
    term.wait_for(lambda s: "Amélie" in s and "filter" not in s)
    term.keys("/")
    term.wait_for(lambda s: "filter by title" in s)
    term.keys("ame", literal=True)
    term.wait_for(lambda s: 'filter: "ame"' in s)
    term.keys("Enter")  # the box goes: the list starts a line higher
    term.wait_for(lambda s: 'filter: "ame"' in s and s.splitlines()[2].split()[:1] == ["Title"])
    term.keys("Enter")
    term.wait_for(lambda s: "movie/amelie" in s and "[3] transcoding" in s)
    term.keys("3")
    term.wait_for(lambda s: "to transcoding?" in s)  # a move asks first
    term.keys("y")
    term.wait_for(lambda s: "State transcoding" in s)
    with Chronolog(url) as cl:
        amelie = cl.states.get("movie", "amelie")
        assert amelie.state == "transcoding"
        assert amelie.current is not None
        assert amelie.current.actor is not None
        assert amelie.current.actor.type == "token"  # recorded as the token that made it
        failed = next(
            j for j in cl.jobs.list(subject=("movie", "amelie")).items if j.state == "failed"
        )

    term.keys("Down", "Down", "Enter")  # rip, remux, then the failed transcode
    term.wait_for(lambda s: f"job {failed.id}" in s and "out of memory" in s)
    term.keys("R")
    term.wait_for(lambda s: "State pending" in s)
    with Chronolog(url) as cl:
        assert cl.jobs.get(failed.id).state == "pending"
    term.keys("q")
    term.wait_for(lambda s: "EXIT:0" in s)
