"""What the command line says when a user gets something wrong: a mistyped store,
subject, actor, queue or stdin line. Each mistake is a clear one-line error (or a
hint), in the CLI's own words, and changes nothing. Both databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chronolog import Chronolog
from chronolog.cli import app

runner = CliRunner()
LAUNCH = "import sys; from chronolog.cli import main; sys.argv[0] = 'chronolog'; main()"

WRITES = [
    ["events", "log", "scan", "x"],
    ["jobs", "enqueue", "x"],
    ["token", "create", "ci"],
    ["projects", "create", "media"],
    ["queues", "pause", "rip"],
    ["schedules", "add", "nightly", "scan", "--every", "1h"],
    ["entities", "move", "movie", "1", "missing"],
    ["retention", "set", "--keep-events", "30d"],
    ["events", "search-index", "on"],
    ["worker", "tests.jobs_handlers:CRASH", "--burst"],
    ["exec", "--burst", "--", "true"],
    ["serve"],
]
"""Commands that write (or serve): none of them creates a store."""


def _run(*args: str, input: str | None = None) -> str:
    result = runner.invoke(app, list(args), input=input, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _refused(*args: str, input: str | None = None) -> str:
    """The one-line error of a command that must fail (exit 1, no traceback)."""
    result = runner.invoke(app, list(args), input=input)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return " ".join(result.output.split())


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in ("CHRONOLOG_DB", "CHRONOLOG_TOKEN", "CHRONOLOG_SERVER"):
        environ.pop(name, None)
    return subprocess.run(
        [sys.executable, "-c", LAUNCH, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
        cwd=Path(__file__).resolve().parent.parent,
    )


# -- 1. only `chronolog init` (and `demo`) create a store ----------------------------


@pytest.mark.parametrize("args", WRITES, ids=lambda a: " ".join(a[:2]))
def test_write_commands_do_not_create_a_store(tmp_path: Path, args: list[str]) -> None:
    path = tmp_path / "chronolgo.db"
    at = args.index("--") if "--" in args else len(args)  # options before exec's command
    message = _refused(*args[:at], "--db", f"sqlite:///{path}", *args[at:])
    assert f"no chronolog store at sqlite:///{path}" in message
    assert "does not exist" in message
    assert "chronolog init" in message
    assert not path.exists()


def test_write_commands_refuse_a_database_without_a_store(empty_db_url: str) -> None:
    """An empty PostgreSQL database (or SQLite file) gets chronolog's tables from
    `chronolog init` only."""
    if empty_db_url.startswith("sqlite"):
        Path(empty_db_url.removeprefix("sqlite:///")).touch()
    for args in (["events", "log", "scan", "x"], ["jobs", "enqueue", "x"]):
        message = _refused(*args, "--db", empty_db_url)
        assert "holds no chronolog store" in message
        assert "chronolog init" in message
    _run("init", "--db", empty_db_url)
    _run("events", "log", "scan", "x", "--db", empty_db_url)
    with Chronolog(empty_db_url) as cl:
        assert cl.events.query().total == 1


def test_demo_into_a_missing_directory_is_a_clean_error(tmp_path: Path) -> None:
    message = _refused("demo", "--no-serve", "--db", f"sqlite:///{tmp_path}/nodir/x.db")
    assert message == f"error: directory '{tmp_path}/nodir' for the SQLite file does not exist"


# -- 2. a subject is KIND:ID everywhere -------------------------------------------------


def test_subject_is_kind_colon_id_in_every_command(db_url: str) -> None:
    job_id = int(_run("jobs", "enqueue", "rip", "--subject", "movie:a:b", "--db", db_url))
    listed = json.loads(_run("jobs", "ls", "--subject", "movie:a:b", "--json", "--db", db_url))
    assert [j["id"] for j in listed["items"]] == [job_id]  # split at the first ':'
    for args in (
        ["jobs", "ls"],
        ["jobs", "cancel-many"],
        ["jobs", "retry-many"],
        ["jobs", "enqueue", "rip"],
    ):
        message = _refused(*args, "--subject", "movie/a", "--db", db_url)
        assert "--subject must be KIND:ID" in message, args
    assert "1 job cancelled" in _run(
        "jobs", "cancel-many", "--subject", "movie:a:b", "--db", db_url
    )
    with Chronolog(db_url) as cl:
        assert cl.jobs.get(job_id).state == "cancelled"


# -- 4. an actor or target needs its type, and an id is not empty ----------------------


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--actor-id", "5"], "--actor-id needs --actor-type"),
        (["--actor-name", "Ann"], "--actor-name needs --actor-type"),
        (["--target-id", "5"], "--target-id needs --target-type"),
        (["--target-title", "Heat"], "--target-title needs --target-type"),
        (["--target-type", "media", "--target-id", ""], "--target-id is empty"),
        (["--actor-type", "user", "--actor-id", " "], "--actor-id is empty"),
    ],
)
def test_events_log_refuses_a_half_actor_or_target(
    db_url: str, flags: list[str], message: str
) -> None:
    assert message in _refused("events", "log", "scan", "x", *flags, "--db", db_url)
    with Chronolog(db_url) as cl:
        assert cl.events.query().total == 0


# -- 5. errors name the stdin line, and no made-up job 0 -------------------------------


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"event_type":"a","action":"b","status":""}'], "stdin line 1: status"),
        (
            ["{}", '{"event_type":"a","action":"b","status":""}'],
            "stdin line 1: event_type",
        ),
        (
            [
                '{"event_type":"a","action":"b"}',
                '{"event_type":"a","action":"b"}',
                '{"event_type":"a","action":"b","status":""}',
            ],
            "stdin line 3: status",
        ),
        (
            ["", '{"event_type":"a","action":"b"}', "", '{"event_type":"a","action":""}'],
            "stdin line 4: action",
        ),
        (['{"event_type":"a","action":"b"}', "{nope"], "stdin line 2 is not JSON"),
    ],
)
def test_a_bad_stdin_line_is_named_by_its_line_number(
    db_url: str, lines: list[str], message: str
) -> None:
    said = _refused("events", "log", "--db", db_url, input="\n".join(lines) + "\n")
    assert message in said
    assert "event " not in said  # no 0-based index beside the line number
    with Chronolog(db_url) as cl:
        assert cl.events.query().total == 0


def test_enqueue_after_an_unknown_job_names_no_job_0(db_url: str) -> None:
    message = _refused("jobs", "enqueue", "x", "--after", "999", "--db", db_url)
    assert message == "error: after names [999], not jobs of project 'default'"


# -- 6. errors speak the CLI's flags, not Python's ---------------------------------------


def test_errors_name_flags_not_python(db_url: str) -> None:
    message = _refused("jobs", "retry-many", "--db", db_url)
    assert "--all" in message
    assert "all=True" not in message
    message = _refused("jobs", "cancel-many", "--state", "pending", "--db", db_url)
    assert message.endswith("or --all to move every pending job")
    message = _refused("events", "ls", "-p", "nosuch", "--db", db_url)
    assert "cl.projects" not in message
    assert "chronolog projects create nosuch" in message
    message = _refused("events", "ls", "--target-id", "5", "--db", db_url)
    assert "--target-id needs --target-type" in message
    assert "target_types" not in message


# -- 7. a burst that did nothing says why it may have --------------------------------------


def test_an_idle_burst_names_paused_and_unknown_queues(db_url: str) -> None:
    with Chronolog(db_url) as cl:
        cl.jobs.enqueue("rip", queue="rip")
        cl.jobs.enqueue("record", queue="media")
        cl.jobs.pause("rip")
    done = _cli("exec", "--queue", "rip", "--burst", "--db", db_url, "--", "true")
    assert done.returncode == 0, done.stderr
    assert "hint: queue rip is paused with 1 pending job: chronolog queues resume rip" in (
        done.stderr
    )
    done = _cli(
        "worker", "tests.jobs_handlers:CRASH", "--queue", "medai", "--burst", "--db", db_url
    )
    assert done.returncode == 0, done.stderr
    assert "hint: queue medai has no jobs (queues with jobs: media, rip)" in done.stderr
    # A burst that did work, or ran quiet, gives no hint.
    done = _cli(
        "worker", "tests.jobs_handlers:CRASH", "--queue", "media", "--burst", "--db", db_url
    )
    assert "hint:" not in done.stderr
    done = _cli("exec", "-q", "--queue", "rip", "--burst", "--db", db_url, "--", "true")
    assert done.stderr == ""


def test_pausing_a_queue_without_jobs_is_allowed_with_a_note(db_url: str) -> None:
    with Chronolog(db_url) as cl:
        cl.jobs.enqueue("rip", queue="rip")
    result = runner.invoke(app, ["queues", "pause", "rpi", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert "note: queue rpi has no jobs yet (queues with jobs: rip)" in result.output
    result = runner.invoke(app, ["queues", "pause", "rip", "--db", db_url])
    assert "note:" not in result.output
    with Chronolog(db_url) as cl:
        assert {q.name for q in cl.jobs.queues() if q.paused} == {"rip", "rpi"}
