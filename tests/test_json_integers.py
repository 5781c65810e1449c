"""One rule for integers in JSON documents (issue 14.15): signed 64 bits, else a clear error.

Event metadata over HTTP once became a float silently (orjson reads a wider
literal as a double); a job payload was refused. Now both refuse, everywhere.
"""

from __future__ import annotations

import pytest

from chronolog import Chronolog, ValidationError

from ._http import Api, error_of

WIDE = (2**64, 2**63, -(2**63) - 1, 10**30)


@pytest.mark.parametrize("number", WIDE)
def test_the_library_refuses_wide_integers_everywhere(cl: Chronolog, number: int) -> None:
    with pytest.raises(ValidationError, match="64-bit"):
        cl.events.record("a", "b", metadata={"n": number})
    with pytest.raises(ValidationError, match="64-bit"):
        cl.events.record("a", "b", metadata=f'{{"deep": [{{"n": {number}}}]}}')
    with pytest.raises(ValidationError, match="64-bit"):
        cl.jobs.enqueue("x", {"n": number})
    assert cl.events.query(limit=1).total == 0
    assert cl.jobs.list().items == []


def test_the_edges_of_the_range_round_trip_exactly(api: Api) -> None:
    edges = {"max": 2**63 - 1, "min": -(2**63), "text": "18446744073709551616"}
    created = api.call(
        "POST", "/events", json={"event_type": "a", "action": "b", "metadata": edges}
    )
    assert created.status_code == 201, created.text
    assert api.cl.events.get(created.json()["id"]).metadata == edges
    job = api.call("POST", "/jobs", json={"kind": "x", "payload": edges})
    assert job.status_code == 201, job.text
    assert job.json()["payload"] == edges


@pytest.mark.parametrize("number", WIDE)
def test_http_refuses_wide_integers_in_events_and_jobs(api: Api, number: int) -> None:
    for path, body in (
        ("/events", f'{{"event_type": "a", "action": "b", "metadata": {{"n": {number}}}}}'),
        (
            "/events",
            f'{{"events": [{{"event_type": "a", "action": "b", "metadata": {{"n": [{number}]}}}}]}}',
        ),
        ("/jobs", f'{{"kind": "x", "payload": {{"n": {number}}}}}'),
    ):
        response = api.call(
            "POST", path, content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, (path, response.text)
        error = error_of(response)
        assert error["code"] == "validation_error"
        assert "64-bit" in error["message"], error
    assert api.cl.events.query(limit=1).total == 0
    assert api.cl.jobs.list().items == []
