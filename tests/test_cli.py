"""The command line: thin over the library, checked through the library."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from chronolog import Chronolog
from chronolog.cli import app

runner = CliRunner()


def _run(*args: str, input: str | None = None) -> str:
    result = runner.invoke(app, list(args), input=input, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_init_creates_store(db_url: str) -> None:
    assert "chronolog store ready" in _run("init", "--db", db_url)


def test_events_log_from_flags_and_ls(db_url: str) -> None:
    out = _run(
        "events",
        "log",
        "deletion",
        "deleted",
        "--db",
        db_url,
        "--actor-type",
        "rule",
        "--actor-id",
        "7",
        "--target-type",
        "media_item",
        "--target-id",
        "42",
        "--target-title",
        "The Matrix",
        "--metadata",
        '{"fileSize": 5}',
    )
    event_id = int(out.strip())
    with Chronolog(db_url) as cl:
        event = cl.events.get(event_id)
        assert event.target is not None
        assert event.target.title == "The Matrix"
        assert event.metadata == {"fileSize": 5}
    table = _run("events", "ls", "--db", db_url, "--type", "deletion")
    assert "The Matrix" in table
    assert "1 of 1 events" in table


def test_events_log_from_stdin_json_lines(db_url: str) -> None:
    lines = "\n".join(
        json.dumps({"event_type": "scan", "action": a, "occurred_at": "2026-01-01T00:00:00Z"})
        for a in ("started", "completed")
    )
    out = _run("events", "log", "--db", db_url, input=lines + "\n")
    assert len(out.split()) == 2
    rows = json.loads(_run("events", "ls", "--db", db_url, "--json"))["items"]
    assert [r["action"] for r in rows] == ["completed", "started"]
    assert rows[0]["occurred_at"] == "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["events", "log", "scan", "x", "--metadata", "[1]"], "JSON object"),
        (["events", "log", "scan", "x", "--at", "last tuesday"], "is not a time"),
        (["events", "ls", "--limit", "0"], "limit"),
        (["events", "ls", "--target-id", "4"], "--target-id needs --target-type"),
        (["events", "ls", "--cursor", "nonsense"], "cursor"),
    ],
)
def test_bad_input_exits_with_clear_error(db_url: str, args: list[str], message: str) -> None:
    result = runner.invoke(app, [*args, "--db", db_url])
    assert result.exit_code == 1
    assert message in result.output
    with Chronolog(db_url) as cl:
        assert cl.events.query().total == 0


def test_db_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("CHRONOLOG_DB", url)
    _run("init")
    _run("events", "log", "scan", "started")
    with Chronolog(url) as cl:
        assert cl.events.query().total == 1


def test_demo_builds_a_store_and_prints_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    out = _run("demo", "--db", url, "--no-serve")
    assert "Newest activity" in out
    assert "Summary of the last 24 hours" in out
    with Chronolog(url) as cl:
        assert (cl.events.query(date_range="24h").total or 0) >= 25
    _run("demo", "--db", url, "--no-serve", "--fresh")  # built anew: no duplicates
    with Chronolog(url) as cl:
        assert cl.events.query().total == cl.events.query(date_range="24h").total
        # Every example scenario has its own project, with activity in it.
        for project in ("media-manager", "rip-pipeline", "jetstream", "agent-platform"):
            assert (cl.using(project).events.query(limit=1).total or 0) > 0
        rip = cl.using("rip-pipeline").jobs.counts()
        assert rip["rip"]["failed"] == 1
        assert rip["rip"]["running"] == 1


def _commands(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for name, command in group.commands.items():
        found.append((f"{prefix}{name}", command))
        if hasattr(command, "commands"):
            found.extend(_commands(command, f"{prefix}{name} "))
    return found


def test_every_command_has_help_text() -> None:
    root = typer.main.get_command(app)
    commands = _commands(root)
    assert len(commands) >= 5
    missing = [name for name, command in commands if not (command.help or "").strip()]
    assert missing == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["jobs", "show", "999"], "job 999 not found"),
        (["jobs", "retry", "999"], "job 999 not found"),
        (["jobs", "logs", "999"], "job 999 not found"),
        (["entities", "show", "movie", "nope"], "movie/nope not found"),
        (["tail", "--after", "garbage"], "cursor is not valid"),
        (["events", "ls", "--limit", "0"], "limit"),
        (["stats", "2x"], "window"),
    ],
)
def test_library_errors_are_a_clean_exit(tmp_path: Path, args: list[str], message: str) -> None:
    """A refusal from the library ends the command with its message and exit 1, no traceback."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    _run("init", "--db", url)
    result = runner.invoke(app, [*args, "--db", url])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_events_search_index_on_off(db_url: str) -> None:
    assert "search index: off" in _run("events", "search-index", "--db", db_url)
    assert "search index: on" in _run("events", "search-index", "on", "--db", db_url)
    _run("events", "log", "scan", "done", "--target-type", "m", "--target-id", "1",
         "--target-title", "Amélie", "--db", db_url)  # fmt: skip
    assert "Amélie" in _run("events", "ls", "--search", "AMÉLIE", "--db", db_url)
    assert "search index: off" in _run("events", "search-index", "off", "--db", db_url)
    bad = runner.invoke(app, ["events", "search-index", "maybe", "--db", db_url])
    assert bad.exit_code == 1
    assert "expected on or off" in bad.output
