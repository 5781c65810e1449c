"""``chronolog schedules …`` on both databases: each command, checked through the library."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from typer.testing import CliRunner

from chronolog import Chronolog
from chronolog.cli import app

runner = CliRunner()


def _run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def test_schedules_commands(db_url: str) -> None:
    out = _run(
        "schedules", "add", "nightly-scan", "scan_library", "--cron", "30 2 * * *",
        "--tz", "Europe/Berlin", "--payload", '{"roots": ["/media"]}', "--queue", "cleanup",
        "--db", db_url,
    )  # fmt: skip
    assert "schedule nightly-scan: cron 30 2 * * * (Europe/Berlin)" in out
    _run("schedules", "add", "reconcile", "reconcile_downloads", "--every", "15m", "--db", db_url)
    with Chronolog(db_url) as cl:
        scan = cl.jobs.schedules.get("nightly-scan")
        assert scan.payload == {"roots": ["/media"]}
        assert scan.queue == "cleanup"
        assert scan.next_fire_at.astimezone(scan.next_fire_at.tzinfo).minute == 30
        assert cl.jobs.schedules.get("reconcile").every is not None
        history = cl.events.query(event_types=["schedule"]).items
        assert {e.actor.type for e in history if e.actor} == {"user"}
    listed = _run("schedules", "ls", "--db", db_url)
    assert "nightly-scan" in listed
    assert "every 900s" in listed
    data = json.loads(_run("schedules", "ls", "--json", "--next", "2", "--db", db_url))
    assert [s["name"] for s in data["items"]] == ["nightly-scan", "reconcile"]
    assert all(len(s["next_fires"]) == 2 for s in data["items"])
    nxt = json.loads(_run("schedules", "next", "reconcile", "-n", "4", "--json", "--db", db_url))
    times = [datetime.fromisoformat(t) for t in nxt["fires"]]
    assert [t.minute % 15 for t in times] == [0, 0, 0, 0]
    assert all(t > datetime.now(UTC) for t in times)
    _run("schedules", "pause", "reconcile", "--db", db_url)
    with Chronolog(db_url) as cl:
        assert cl.jobs.schedules.get("reconcile").paused
    _run("schedules", "resume", "reconcile", "--db", db_url)
    _run("schedules", "rm", "nightly-scan", "--db", db_url)
    with Chronolog(db_url) as cl:
        assert [s.name for s in cl.jobs.schedules.list()] == ["reconcile"]
        assert not cl.jobs.schedules.get("reconcile").paused


def test_schedules_refuse_bad_input_and_change_nothing(db_url: str) -> None:
    _run("schedules", "add", "keep", "k", "--every", "1h", "--db", db_url)
    for args, says in [
        (["--cron", "* *"], "five fields"),
        (["--cron", "0 3 * * *", "--tz", "Atlantis/Capital"], "unknown time zone"),
        (["--every", "1m", "--catch-up", "sometimes"], "catch_up must be one of"),
        (["--every", "1m", "--cron", "* * * * *"], "exactly one of cron and every"),
    ]:
        out = runner.invoke(app, ["schedules", "add", "keep", "k", *args, "--db", db_url])
        assert out.exit_code == 1, out.output
        assert says in out.output
    assert "not found" in _run("schedules", "rm", "ghost", "--db", db_url, code=1)
    with Chronolog(db_url) as cl:
        keep = cl.jobs.schedules.get("keep")
        assert keep.every is not None
        assert keep.every.total_seconds() == 3600
        assert [s.name for s in cl.jobs.schedules.list()] == ["keep"]
