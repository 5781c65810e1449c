"""End to end: ``chronolog serve`` as a real uvicorn process on a free loopback port."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from chronolog import Chronolog, Client, NewEvent, NotFound, Unauthorized


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A running ``chronolog serve`` on an empty store: (base URL, its first admin token)."""
    port = _free_port()
    out = tmp_path / "serve.out"
    env = {**os.environ, "CHRONOLOG_DB": db_url, "PYTHONUNBUFFERED": "1"}
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from chronolog.cli import main; main()",
                "serve",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server did not start:\n{out.read_text()}")
            time.sleep(0.1)
        match = re.search(r"chl_[A-Za-z0-9_-]{43}", out.read_text())
        assert match, out.read_text()
        yield base, match.group(0)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_record_and_query_through_a_real_server(server: tuple[str, str], db_url: str) -> None:
    base, token = server
    start = datetime(2026, 11, 21, tzinfo=UTC)
    with Client(base, token) as client:
        assert client.whoami()["role"] == "admin"
        one = client.events.record("scan", "started", occurred_at=start, metadata={"n": 0})
        ids = client.events.record_many(
            [
                NewEvent("scan", "done", occurred_at=start + timedelta(seconds=i))
                for i in range(1, 200)
            ]
        )
        assert len(ids) == 199
        page = client.events.query(event_types="scan", actions=["done"], limit=50)
        assert page.total == 199
        assert [e.id for e in page.items] == ids[::-1][:50]
        second = client.events.query(
            event_types="scan", actions=["done"], limit=50, cursor=page.next_cursor
        )
        assert [e.id for e in second.items] == ids[::-1][50:100]
        assert client.events.get(one).metadata == {"n": 0}
        with pytest.raises(NotFound):
            client.events.get(10**12)
    with Client(base, "chl_" + "x" * 43) as stranger, pytest.raises(Unauthorized):
        stranger.events.recent()
    # What the server wrote is in the store, for the library to read.
    with Chronolog(db_url) as cl:
        assert cl.events.query(limit=1).total == 200
    metrics = httpx.get(f"{base}/metrics").text
    assert "chronolog_events_recorded_total 200.0" in metrics
    assert 'route="/api/v1/events"' in metrics
