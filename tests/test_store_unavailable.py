"""An unreachable store is one clear line (issue 14.12): ``StoreUnavailable`` naming where
the store is (host, port, database or file), never the password, never a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from chronolog import Chronolog, StoreUnavailable
from chronolog.cli import app as cli


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unreachable(backend: str, db_url: str, tmp_path: Path) -> tuple[str, list[str]]:
    """A URL of this backend that cannot be opened, and what its message must name."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}", [str(tmp_path)]  # a directory, not a file
    port = _closed_port()
    url = make_url(db_url).set(port=port, password="hunter2", host="127.0.0.1")
    return url.render_as_string(hide_password=False), ["127.0.0.1", str(port), url.database or ""]


def test_opening_an_unreachable_store_is_one_clear_line(
    backend: str, db_url: str, tmp_path: Path
) -> None:
    url, named = _unreachable(backend, db_url, tmp_path)
    with pytest.raises(StoreUnavailable) as caught:
        Chronolog(url)
    message = caught.value.message
    assert "\n" not in message
    assert "hunter2" not in message
    for part in named:
        assert part in message, (part, message)


def test_serve_on_an_unreachable_store_exits_with_one_line(
    backend: str, db_url: str, tmp_path: Path
) -> None:
    url, named = _unreachable(backend, db_url, tmp_path)
    result = CliRunner().invoke(cli, ["serve", "--db", url, "--port", str(_closed_port())])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    assert "hunter2" not in result.output
    assert named[0] in lines[0]


def test_serve_refuses_a_port_out_of_range(db_url: str) -> None:
    result = CliRunner().invoke(cli, ["serve", "--db", db_url, "--port", "99999"])
    assert result.exit_code == 2
    assert "65535" in result.output
