"""The server applies retention itself: no cron to schedule."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from chronolog import Chronolog
from chronolog.server import create_app


def test_server_runs_retention_when_due(cl: Chronolog) -> None:
    old = datetime.now(UTC) - timedelta(days=3)
    cl.events.record_many([{"event_type": "scan", "action": "old", "occurred_at": old}] * 4)
    cl.events.record("scan", "fresh")
    cl.retention.set(events="1d")
    app = create_app(cl, housekeeping_seconds=0.05)

    async def serve_a_while() -> None:
        # The lifespan starts (and at exit cancels) the housekeeping task.
        async with app.router.lifespan_context(app):
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and cl.events.query(event_types=["scan"]).total != 1:
                await asyncio.sleep(0.05)

    asyncio.run(serve_a_while())
    assert [e.action for e in cl.events.query(event_types=["scan"]).items] == ["fresh"]
    assert cl.events.query(event_types=["retention"]).total == 1
