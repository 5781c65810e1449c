"""The client-only install, for real: a fresh virtualenv (no system site-packages) that
holds chronolog and only what ``chronolog[client]`` needs imports the client and talks
to a real server, with SQLAlchemy, the drivers, the server and UI stacks absent.

``tests/test_extras.py`` proves the same split in milliseconds with an import
blocker; this test proves the packaging itself (the wheel's contents, the
``client`` extra's requirements) with pip and the package index (the same index
options as ``scripts/_venv.sh``: none of its own, pip's configuration). It takes
15-40 s, so it stays in the suite.

One extra cannot take away what the core requires: ``pip install
'chronolog[client]'`` is the core (the library and the CLI: SQLAlchemy and
friends) plus httpx. A machine that wants the client and nothing else installs the
package without its dependencies and the client's requirements beside it, as the
first half does; the second half runs the README's command and checks what it
brings (httpx, not the server).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from chronolog import Chronolog

from ._http import serving
from .test_extras import BLOCKED

ROOT = Path(__file__).resolve().parent.parent

ABSENT = BLOCKED
"""What the client must not need: none of it is installed in the first half."""

CHILD = textwrap.dedent(
    """
    import importlib.util
    import sys

    present = [m for m in sys.argv[3].split(",") if importlib.util.find_spec(m) is not None]
    assert not present, f"installed but not wanted: {present}"

    import chronolog.client
    from chronolog import Client, EntityQuery, EventQuery, NewEvent, Target, ValidationError

    with Client(sys.argv[1], sys.argv[2]) as client:
        ids = client.events.record_many([NewEvent("scan", "done", target=Target("lib", "1"))])
        page = client.events.query(EventQuery(event_types="scan"))
        assert [e.id for e in page.items] == ids, page
        client.states.transition("disc", "d1", "ripped")
        assert [e.id for e in client.states.list(EntityQuery(kinds="disc"))] == ["d1"]
        try:
            client.jobs.retry_many(queue="rip")
        except ValidationError:
            pass
        else:
            raise AssertionError("an unknown job filter must fail in the client")
    print("client ok", chronolog.client.__file__)
    """
)


def _pip(python: Path, *args: str) -> None:
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _source(tmp_path: Path) -> Path:
    """A copy of what the package is built from (building in the checkout would leave
    ``build/`` behind and race the other test processes)."""
    copy = tmp_path / "src-copy"
    copy.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, copy / name)
    shutil.copytree(
        ROOT / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    return copy


def _client_requirements() -> list[str]:
    """The ``client`` extra's requirements and the one core requirement the client
    imports (orjson), from ``pyproject.toml``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = [r for r in project["dependencies"] if r.startswith("orjson")]
    return [*project["optional-dependencies"]["client"], *core]


@pytest.mark.slow
def test_client_only_install_in_a_fresh_virtualenv(tmp_path: Path) -> None:
    # One database is enough: this is about packaging (and runs once, not per backend).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    isolated = subprocess.run(
        [str(python), "-c", "import sys; print(sys.prefix != sys.base_prefix)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert isolated.stdout.strip() == "True"
    source = _source(tmp_path)
    _pip(python, "--no-deps", str(source))
    _pip(python, *_client_requirements())

    with Chronolog(f"sqlite:///{tmp_path / 'server.db'}") as cl:
        token = cl.auth.create_token("client venv", "write").secret
        with serving(cl) as url:
            done = subprocess.run(
                [str(python), "-c", CHILD, url, token, ",".join(ABSENT)],
                capture_output=True,
                text=True,
                timeout=120,
                cwd=tmp_path,  # not the checkout: the venv's own chronolog is imported
            )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("client ok"), done.stdout
    assert str(venv) in done.stdout  # the installed package, not the checkout's

    # The README's command: the core and httpx, never the server or the terminal UI.
    _pip(python, f"{source}[client]")
    check = (
        "import importlib.util as u, chronolog.client;"
        "print(sorted(m for m in ('httpx', 'sqlalchemy', 'fastapi', 'uvicorn', 'textual')"
        " if u.find_spec(m)))"
    )
    done = subprocess.run(
        [str(python), "-c", check], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['httpx', 'sqlalchemy']", done.stdout
