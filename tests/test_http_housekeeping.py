"""The server applies retention itself: no cron to schedule."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from starlette.testclient import TestClient

from chronolog import Chronolog
from chronolog.server import create_app


def test_server_runs_retention_when_due(cl: Chronolog) -> None:
    old = datetime.now(UTC) - timedelta(days=3)
    cl.events.record_many([{"event_type": "scan", "action": "old", "occurred_at": old}] * 4)
    cl.events.record("scan", "fresh")
    cl.retention.set(events="1d")
    app = create_app(cl, housekeeping_seconds=0.05)
    with TestClient(app):  # runs the lifespan, and so the housekeeping task
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and cl.events.query(event_types=["scan"]).total != 1:
            time.sleep(0.05)
    assert [e.action for e in cl.events.query(event_types=["scan"]).items] == ["fresh"]
    assert cl.events.query(event_types=["retention"]).total == 1
