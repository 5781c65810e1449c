"""End to end: ``chronolog serve`` as a real uvicorn process on a free loopback port."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from chronolog import Chronolog, Client, NewEvent, NotFound, Unauthorized


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def token_file(out: Path) -> Path:
    """Where a server started with output ``out`` writes its first admin token."""
    return out.with_suffix(".token")


def _start(db_url: str, port: int, out: Path) -> subprocess.Popen[bytes]:
    """``chronolog serve`` on ``port``, up and answering ``/health``."""
    env = {
        **os.environ,
        "CHRONOLOG_DB": db_url,
        "PYTHONUNBUFFERED": "1",
        "CHRONOLOG_TOKEN_FILE": str(token_file(out)),
    }
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
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            pytest.fail(f"server did not start:\n{out.read_text()}")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes], *, kill: bool = False) -> None:
    if kill:
        proc.kill()
    else:
        proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A running ``chronolog serve`` on an empty store: (base URL, its first admin token)."""
    port = _free_port()
    out = tmp_path / "serve.out"
    proc = _start(db_url, port, out)
    base = f"http://127.0.0.1:{port}"
    try:
        match = re.search(r"chl_[A-Za-z0-9_-]{43}", token_file(out).read_text())
        assert match, out.read_text()
        yield base, match.group(0)
    finally:
        _stop(proc)


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
    metrics = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}).text
    assert "chronolog_events_recorded_total 200.0" in metrics
    assert 'route="/api/v1/events"' in metrics


def test_an_sse_follower_crosses_a_server_restart_with_no_gap(db_url: str, tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    out = tmp_path / "serve.out"
    proc = _start(db_url, port, out)
    try:
        match = re.search(r"chl_[A-Za-z0-9_-]{43}", token_file(out).read_text())
        assert match, out.read_text()
        token = match.group(0)
        got: list[int] = []
        stop = threading.Event()
        wanted = 120

        def follow() -> None:
            with Client(base, token) as follower:
                for item in follower.feed.follow(poll=0.2, stop=stop, reconnect=0.2):
                    got.append(item.event.id)
                    if len(got) >= wanted:
                        stop.set()

        thread = threading.Thread(target=follow)
        thread.start()
        try:
            with Client(base, token) as client:
                for i in range(4):
                    client.events.record_many([NewEvent("tick", f"{i}.{j}") for j in range(10)])
                _wait_for(lambda: len(got) >= 40)
                # The server dies mid-stream; events keep coming while it is down.
                _stop(proc, kill=True)
                with Chronolog(db_url) as cl:
                    for i in range(4):
                        cl.events.record_many(
                            [NewEvent("tick", f"down {i}.{j}") for j in range(10)]
                        )
                proc = _start(db_url, port, out)
                for i in range(4):
                    client.events.record_many([NewEvent("tick", f"up {i}.{j}") for j in range(10)])
            _wait_for(lambda: len(got) >= wanted)
        finally:
            stop.set()
            thread.join(timeout=30)
        with Chronolog(db_url) as cl:
            expected = [e.id for e in cl.feed.read(limit=1000).items]
        assert len(expected) == wanted
        assert got == expected  # every event once, in commit order, across the restart
    finally:
        _stop(proc)


def _wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_remote_exec_workers_drain_jobs(server: tuple[str, str], tmp_path: Path) -> None:
    base, admin = server
    with Client(base, admin) as client:
        token = client.request("POST", "/tokens", json={"name": "ripper", "role": "write"})[
            "secret"
        ]
        ids = client.jobs.enqueue_many(
            [{"kind": "rip", "queue": "rip", "payload": {"disc": i}} for i in range(20)]
        )
    out = tmp_path / "rips"
    out.mkdir()
    script = f"echo ripping disc {{disc}}; touch {out}/disc-{{disc}}-$CHRONOLOG_JOB_ID"
    env = {**os.environ, "CHRONOLOG_TOKEN": token, "PYTHONUNBUFFERED": "1"}
    env.pop("CHRONOLOG_DB", None)
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from chronolog.cli import main; main()",
                "exec",
                "--server",
                base,
                "--queue",
                "rip",
                "--concurrency",
                "2",
                "--burst",
                "--",
                "sh",
                "-c",
                script,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        for _ in range(2)
    ]
    for proc in workers:
        output, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, output.decode()
    with Client(base, admin) as client:
        jobs = [client.jobs.get(i) for i in ids]
        assert {j.state for j in jobs} == {"completed"}
        assert all(j.result is not None and j.result["exit_status"] == 0 for j in jobs)
        assert "ripping disc 3" in [line.message for line in client.jobs.logs(ids[3])]
    made = sorted(p.name for p in out.iterdir())
    assert made == sorted(f"disc-{i}-{job_id}" for i, job_id in enumerate(ids))  # each once
    metrics = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}).text
    assert 'chronolog_jobs{project="default",queue="rip",state="completed"} 20.0' in metrics
