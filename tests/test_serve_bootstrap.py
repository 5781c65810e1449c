"""The first admin token goes to a file only its owner can read, never to the logs
(issue 14.11)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chronolog import Chronolog

from .test_http_e2e import _free_port, _stop

LAUNCH = (sys.executable, "-c", "from chronolog.cli import main; main()")


def _serve(db_url: str, cwd: Path, out: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if k != "CHRONOLOG_TOKEN_FILE"}
    env.update(CHRONOLOG_DB=db_url, PYTHONUNBUFFERED="1")
    port = _free_port()
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [*LAUNCH, "serve", "--port", str(port), "--log-level", "warning"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            pytest.fail(f"server did not start:\n{out.read_text()}")
        time.sleep(0.1)


def test_the_first_admin_token_is_written_to_an_owner_only_file(
    db_url: str, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    out = tmp_path / "serve.log"
    proc, base = _serve(db_url, run, out)
    try:
        path = run / "chronolog-admin-token"
        secret = path.read_text().strip()
        assert secret.startswith("chl_")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        log = out.read_text()
        assert secret not in log  # service logs never hold it
        assert str(path) in log  # but they say where it is
        whoami = httpx.get(f"{base}/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"})
        assert whoami.json()["role"] == "admin"
    finally:
        _stop(proc)
    # A second start issues nothing and leaves the file alone.
    out2 = tmp_path / "serve2.log"
    proc, _ = _serve(db_url, run, out2)
    try:
        assert path.read_text().strip() == secret
        assert "admin token" not in out2.read_text()
    finally:
        _stop(proc)
    with Chronolog(db_url) as cl:
        assert len(cl.auth.tokens()) == 1
