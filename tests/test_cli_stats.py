"""CLI: stats chart, tail and cleanup, checked through the library."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from chronolog import Chronolog, NewEvent
from chronolog.cli import app

runner = CliRunner()


def test_stats_tail_cleanup(db_url: str) -> None:
    now = datetime.now(UTC)
    with Chronolog(db_url) as cl:
        cl.events.record_many(
            [NewEvent("post", "create", occurred_at=now - timedelta(minutes=m)) for m in range(5)]
            + [NewEvent("post", "delete", occurred_at=now - timedelta(days=3))]
        )
    out = runner.invoke(app, ["stats", "1h", "--group-by", "action", "--db", db_url])
    assert out.exit_code == 0, out.output
    assert "█" in out.output
    assert "create" in out.output
    js = runner.invoke(app, ["stats", "7d", "--json", "--db", db_url])
    assert js.exit_code == 0
    series = json.loads(js.output)
    assert len(series["buckets"]) == 7
    assert series["total"] == 6
    tail = runner.invoke(app, ["tail", "-n", "3", "--db", db_url])
    assert tail.exit_code == 0, tail.output
    assert tail.output.count("post") == 3
    assert "cursor:" in tail.output
    bad = runner.invoke(app, ["tail", "--after", "nope", "--db", db_url])
    assert bad.exit_code == 1
    assert "cursor" in bad.output
    clean = runner.invoke(app, ["cleanup", "--keep-events", "1d", "--db", db_url])
    assert clean.exit_code == 0, clean.output
    assert "removed 1 rows" in clean.output
    with Chronolog(db_url) as cl:
        assert cl.retention.policies() == {"events": timedelta(days=1)}
        assert cl.stats.buckets("7d", event_types="post").total == 6  # counts outlive events
    assert runner.invoke(app, ["stats", "2h", "--db", db_url]).exit_code == 1
