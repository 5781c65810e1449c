"""Nothing before authentication (issue 14.2): a stranger's body is never read or held;
bodies stream to the routes under a cap instead of being buffered first."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

from chronolog import Chronolog

from ._http import Api, error_of, serving

EIGHT_MB = 8 * 1024 * 1024 - 1


def _raw(base: str, head: str, body: bytes = b"", wait: float = 5.0) -> tuple[float, bytes]:
    """Send a request head (and maybe part of a body), keep the connection open, and
    return how long the first bytes of the answer took, and the answer."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=wait) as sock:
        started = time.monotonic()
        sock.sendall(head.encode("latin-1") + body)
        chunks = []
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
                if b"\r\n\r\n" in b"".join(chunks) and b'"}}' in b"".join(chunks):
                    break
        except TimeoutError:
            pass
        return time.monotonic() - started, b"".join(chunks)


def _head(path: str, length: int, **headers: str) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines.append(f"Content-Length: {length}")
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return "\r\n".join(lines) + "\r\n\r\n"


def test_a_stranger_is_refused_before_any_body_is_read(cl: Chronolog) -> None:
    read = cl.auth.create_token("reader", "read").secret
    with serving(cl, housekeeping_seconds=None) as base:
        for headers, status in (
            ({}, b"401"),
            ({"Authorization": "Bearer chl_unknown"}, b"401"),
            ({"Authorization": f"Bearer {read}"}, b"403"),  # may not write: body unread too
        ):
            # An 8 MiB body is announced and never sent: the answer must not wait for it.
            took, answer = _raw(base, _head("/api/v1/events", EIGHT_MB, **headers), b'{"ev')
            assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
            assert took < 3.0, took
            assert b"connection: close" in answer.lower()
        # The dashboard's forms come with a cookie, not a token: small bodies only.
        took, answer = _raw(base, _head("/login", 1024 * 1024))
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert cl.events.query(limit=1).total == 0


def test_an_authenticated_body_streams_under_its_cap(api: Api) -> None:
    """Chunked (no Content-Length): counted as it streams, cut off at the cap with 413."""
    from ._http import make_api

    for small in make_api(api.cl, max_body_bytes=64 * 1024):

        def chunks() -> object:
            for _ in range(40):
                yield b" " * 4096  # JSON whitespace, 160 KiB in all
            yield b'{"event_type": "a", "action": "b"}'

        response = small.call("POST", "/events", content=chunks())
        assert response.status_code == 413, response.text
        assert error_of(response)["code"] == "too_large"
        fine = small.call("POST", "/events", json={"event_type": "a", "action": "b"})
        assert fine.status_code == 201
    assert api.cl.events.query(limit=1).total == 1
