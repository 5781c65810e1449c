"""The command line as a product: help, times and durations, JSON pages, pipes, safety.

Checked through the library on both databases where a store is involved.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from chronolog import Chronolog
from chronolog.cli import app

runner = CliRunner()


def _run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
    result = runner.invoke(app, list(args), input=input, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if hasattr(command, "commands"):
            found.extend(_commands(command, (*prefix, name)))
    return found


def test_help_reads_like_a_product() -> None:
    """No Python type labels, no RST backticks, anywhere in any command's help."""
    root = typer.main.get_command(app)
    commands = _commands(root)
    assert ("projects", "create") in commands
    assert ("machines", "define") in commands
    assert ("retention", "show") in commands
    for path in [(), *commands]:
        out = _run(*path, "--help")
        for label in ("<str>", "<int", "<bool>", "<float", "<list[", "range>", "``"):
            assert label not in out, f"chronolog {' '.join(path)} --help shows {label!r}"
    enqueue = _run("jobs", "enqueue", "--help")
    assert "--delay" in enqueue
    assert "DURATION" in enqueue


def test_short_q_means_quiet_everywhere() -> None:
    root = typer.main.get_command(app)
    for path in _commands(root):
        command: Any = root
        for name in path:
            command = command.commands[name]
        for param in getattr(command, "params", []):
            if "-q" in getattr(param, "opts", []):
                assert "--quiet" in param.opts, f"{' '.join(path)}: -q is {param.opts}"


def test_read_commands_do_not_create_a_store(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    for args in (
        ["events", "ls"],
        ["entities", "ls"],
        ["jobs", "show", "1"],
        ["tui"],
        ["projects", "ls"],
        ["retention", "show"],
    ):
        result = runner.invoke(app, [*args, "--db", f"sqlite:///{path}"])
        assert result.exit_code == 1, (args, result.output)
        assert "does not exist" in result.output
        assert "chronolog init" in result.output
        assert not path.exists(), args
    _run("init", "--db", f"sqlite:///{path}")
    assert path.exists()
    assert "0 of 0 events" in _run("events", "ls", "--db", f"sqlite:///{path}")


def test_read_commands_refuse_a_database_without_a_store(empty_db_url: str) -> None:
    """An empty database (SQLite file or PostgreSQL database) is not silently migrated."""
    if empty_db_url.startswith("sqlite"):
        Path(empty_db_url.removeprefix("sqlite:///")).touch()
    refused = runner.invoke(app, ["events", "ls", "--db", empty_db_url])
    assert refused.exit_code == 1
    assert "holds no chronolog store" in refused.output
    _run("init", "--db", empty_db_url)
    assert "0 of 0 events" in _run("events", "ls", "--db", empty_db_url)


def test_db_and_server_together_are_refused(db_url: str) -> None:
    for command in (["tui"], ["worker", "tests.jobs_handlers:CRASH"], ["exec", "--", "true"]):
        result = runner.invoke(
            app, [*command[:1], "--db", db_url, "--server", "http://127.0.0.1:9", *command[1:]]
        )
        assert result.exit_code == 1, result.output
        assert "not both" in result.output


def test_naive_times_are_utc_or_tz_and_durations_read_one_way(db_url: str) -> None:
    _run("events", "log", "scan", "utc", "--at", "2026-03-01T12:00:00", "--db", db_url)
    _run(
        "events", "log", "scan", "paris", "--at", "2026-03-01T12:00:00", "--tz", "Europe/Paris",
        "--db", db_url,
    )  # fmt: skip
    _run("events", "log", "scan", "ago", "--at", "2h ago", "--db", db_url)
    with Chronolog(db_url) as cl:
        at = {e.action: e.occurred_at for e in cl.events.query().items}
    assert at["utc"] == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert at["paris"] == datetime(2026, 3, 1, 11, tzinfo=UTC)
    assert abs(datetime.now(UTC) - timedelta(hours=2) - at["ago"]) < timedelta(minutes=1)
    # --since with a relative time, and times shown in --tz with the zone in the header.
    listed = _run("events", "ls", "--since", "1d", "--tz", "Europe/Paris", "--db", db_url)
    assert "when (Europe/Paris)" in listed
    assert "1 of 1 events" in listed
    ids = [
        int(_run("jobs", "enqueue", "rip", "--delay", d, "--db", db_url)) for d in ("90s", "1h30m")
    ]
    with Chronolog(db_url) as cl:
        delays = [cl.jobs.get(i).run_at - cl.jobs.get(i).created_at for i in ids]
    assert [round(d.total_seconds()) for d in delays] == [90, 5400]
    bad = runner.invoke(app, ["jobs", "enqueue", "rip", "--delay", "soon", "--db", db_url])
    assert bad.exit_code == 2
    assert "not a duration" in bad.output


def test_events_ls_json_keeps_the_next_cursor(db_url: str) -> None:
    with Chronolog(db_url) as cl:
        cl.events.record_many([{"event_type": "scan", "action": f"a{i}"} for i in range(5)])
    first = json.loads(_run("events", "ls", "--limit", "2", "--json", "--db", db_url))
    assert [e["action"] for e in first["items"]] == ["a4", "a3"]
    assert first["total"] == 5
    second = json.loads(
        _run(
            "events",
            "ls",
            "--limit",
            "2",
            "--cursor",
            first["next_cursor"],
            "--json",
            "--db",
            db_url,
        )
    )
    assert [e["action"] for e in second["items"]] == ["a2", "a1"]


def test_piped_tables_keep_whole_words(db_url: str) -> None:
    with Chronolog(db_url) as cl:
        for n in range(3):
            job = cl.jobs.enqueue(
                "transcode-with-a-rather-long-kind-name",
                subject=("season", f"breaking-bad/season-0{n}-with-a-long-id"),
            )
            cl.jobs.cancel(job.id)
    out = _run("jobs", "ls", "--db", db_url)  # CliRunner's stdout is a pipe
    assert out.count("cancelled") == 3 + 1  # three rows and the summary line
    assert "breaking-bad/season-01-with-a-long-id" in out
    assert "transcode-with-a-rather-long-kind-name" in out


def test_jobs_show_prints_a_multi_line_error_whole(db_url: str) -> None:
    error = (
        "Traceback (most recent call last):\n"
        '  File "rip.py", line 3, in <module>\n'
        "    main()\n"
        "RuntimeError: x265 [error]: out of memory at frame 1337"
    )
    with Chronolog(db_url) as cl:
        job = cl.jobs.enqueue("rip", max_attempts=1)
        (claimed,) = cl.jobs.claim(["default"], "w")
        cl.jobs.fail(job.id, claimed.lease, error, retry=False)
    out = _run("jobs", "show", str(job.id), "--db", db_url)
    for line in error.splitlines():
        assert line in out


def test_cli_job_operations_record_the_local_user(db_url: str) -> None:
    env = {"USER": "ana"}
    job_id = int(_run("jobs", "enqueue", "rip", "--db", db_url, env=env))
    _run("jobs", "cancel", str(job_id), "--db", db_url, env=env)
    _run("jobs", "retry", str(job_id), "--db", db_url, env=env)
    with Chronolog(db_url) as cl:
        moves = cl.jobs.history(job_id)
        events = cl.events.query(event_types=["job"]).items
    assert [m.actor[:2] for m in moves] == [("user", "ana")] * 3
    assert {(e.actor.type, e.actor.id) for e in events if e.actor} == {("user", "ana")}
    shown = _run("jobs", "show", str(job_id), "--db", db_url)
    assert "pending → cancelled  ana" in shown


def test_events_log_from_a_big_stdin(db_url: str) -> None:
    """More lines than one batch may hold: one transaction, every id printed, in order."""
    with Chronolog(db_url) as cl:
        cl.scope.limits  # noqa: B018 - the default batch limit is 50,000 rows
    lines = "".join(
        json.dumps({"event_type": "import", "action": "row", "metadata": {"n": n}}) + "\n"
        for n in range(60_500)
    )
    out = _run("events", "log", "--quiet", "--db", db_url, input=lines)
    ids = [int(i) for i in out.split()]
    assert len(ids) == 60_500
    assert ids == sorted(ids)
    with Chronolog(db_url) as cl:
        assert cl.events.query(event_types=["import"], limit=1).total == 60_500
    bad = runner.invoke(
        app, ["events", "log", "--db", db_url], input=lines[:2000] + "{oops\n" + lines[2000:4000]
    )
    assert bad.exit_code == 1
    assert "is not JSON" in bad.output
    with Chronolog(db_url) as cl:
        assert cl.events.query(event_types=["import"], limit=1).total == 60_500  # unchanged


_IMPORTS = """
import sys
from chronolog.cli import app
try:
    app({args!r}, standalone_mode=False)
finally:
    heavy = sorted(m for m in ("fastapi", "uvicorn", "textual", "httpx", "starlette")
                   if m in sys.modules)
    print("HEAVY", heavy)
"""


@pytest.mark.parametrize(
    "args",
    [
        ["events", "ls"],
        ["events", "log", "scan", "done"],
        ["entities", "ls"],
        ["jobs", "ls"],
        ["stats", "1d"],
        ["projects", "ls"],
        ["retention", "show"],
        ["tail", "-n", "2"],
    ],
)
def test_local_commands_load_no_web_or_terminal_ui_stack(tmp_path: Path, args: list[str]) -> None:
    url = f"sqlite:///{tmp_path / 'light.db'}"
    with Chronolog(url):
        pass
    code = _IMPORTS.format(args=[*args, "--db", url])
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CHRONOLOG_DB": url},
        check=False,
    )
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


def test_import_chronolog_stays_light() -> None:
    code = (
        "import sys, chronolog\n"
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'textual', 'httpx', 'cryptography',"
        " 'alembic', 'typer', 'rich', 'jinja2') if m in sys.modules))\n"
        "chronolog.Client\n"
        "print('httpx' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split("\n")[:2] == ["[]", "True"]
