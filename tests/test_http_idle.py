"""An idle server idles (issue 14.1): waiting long-polls and their wakers burn no CPU."""

from __future__ import annotations

import threading
import time

import httpx

from chronolog import Chronolog

from ._http import serving


def _cpu_over(seconds: float) -> float:
    """CPU seconds this process (server threads included) used over ``seconds`` of wall time."""
    started = time.process_time()
    time.sleep(seconds)
    return time.process_time() - started


def test_a_waiting_claim_and_its_waker_burn_no_cpu(cl: Chronolog) -> None:
    token = cl.auth.create_token("worker", "write").secret
    # Any event in the store: the jobs waker once compared the jobs generation with
    # the events topic, and spun forever as soon as the two differed.
    cl.events.record("scan", "started")
    headers = {"Authorization": f"Bearer {token}"}
    with serving(cl, housekeeping_seconds=None) as base:
        answers: list[int] = []

        def claim() -> None:
            response = httpx.post(
                f"{base}/api/v1/jobs/claim",
                json={"queues": ["q"], "wait_seconds": 3},
                headers=headers,
                timeout=30,
            )
            answers.append(response.status_code)

        waiter = threading.Thread(target=claim)
        waiter.start()
        time.sleep(0.5)  # the claim is waiting, its waker thread running
        during = _cpu_over(1.5)
        waiter.join(10)
        assert answers == [200]
        after = _cpu_over(1.5)  # the waker thread outlives the request
    # A spinning thread uses a whole core (1.5 s per 1.5 s); idling uses almost nothing.
    assert during < 0.4, during
    assert after < 0.4, after
