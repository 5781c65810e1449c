"""Schemathesis against ``/openapi.json``: no 5xx, and every response matches the schema.

Bounded: a few dozen generated requests per operation (valid and invalid
data), on both databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chronolog import Chronolog, Job, Unauthorized
from chronolog.jobs.schedule_models import ScheduleFire
from chronolog.server import create_app

from ._http import Api

# schemathesis drives ASGI apps through Starlette's TestClient, which warns about httpx.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class _Proxy:
    """The app the schema calls: each test points it at its own app and database."""

    target: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.target(scope, receive, send)


def _openapi() -> dict[str, Any]:
    with Chronolog("sqlite://") as cl:
        return create_app(cl).openapi()


PROXY = _Proxy()
schema = schemathesis.openapi.from_dict(_openapi())
schema.app = PROXY


@pytest.fixture
def served(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The test's app behind the proxy, with a few rows for generated ids to hit."""
    monkeypatch.setenv("CHRONOLOG_SECRET_KEY", "x2mCZyhRBEvqgYmaHcOVHWtFmcs4GsXN9SqTFV4FFs0=")
    api.cl.events.record("scan", "started", status="processing")
    api.cl.secrets.set("db", "v")
    api.cl.auth.set_member("bob", "write")
    api.cl.states.define("movie", ["new", "done"], {"new": ["done"]}, initial="new")
    api.cl.states.transition("movie", 1, "done")
    # Long-polls and streams end quickly, so every generated request gets its whole answer.
    api.app.state.feed_waker.max_wait = 0.2
    api.app.state.jobs_waker.max_wait = 0.2
    api.app.state.jobs_cancel_waker.max_wait = 0.2
    api.cl.jobs.enqueue("noop")
    api.app.state.feed_waker.stream_seconds = 0.2
    PROXY.target = api.app
    yield api
    PROXY.target = None


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_openapi_contract(case: schemathesis.Case, served: Api) -> None:
    api = served
    try:
        api.cl.auth.authenticate(api.admin)
    except Unauthorized:  # a generated DELETE /tokens/{id} revoked it: issue another
        api.admin = api.cl.auth.create_token("schema admin", "admin").secret
    case.call_and_validate(headers={"Authorization": f"Bearer {api.admin}"}, checks=CHECKS)


# -- crafted cursors and extreme dates, through the same checks (issue 14.6) -----------

CRAFTED_CURSORS = [
    "eyJrIjoiZXZlbnRzIiwiZiI6IjAwIiwidCI6MTg0NDY3NDQwNzM3MDk1NTE2MTYsImkiOjEsInAiOjJ9",
    "eyJrIjoiZmVlZCIsImYiOiIwMCIsInQiOjE4NDQ2NzQ0MDczNzA5NTUxNjE2LCJpIjoxfQ",
    "eyJrIjoiam9icyIsImYiOiIwMCIsImkiOi0xLCJwIjowfQ.AAAAAAAAAAAAAAAAAAAAAA",
    "A" * 512,
    "..",
    "x.y",
]
"""Unsigned cursors with positions of 2**64 (the issue's 500), negative ones, a forged
tag, garbage."""

EXTREME_DATES = ["0001-01-01T00:00:00Z", "0001-01-02T00:00:00+00:00", "9999-12-31T23:59:59Z"]

_CURSOR_CASES = [
    ("/api/v1/events", "cursor"),
    ("/api/v1/jobs", "cursor"),
    ("/api/v1/entities", "cursor"),
    ("/api/v1/timeline", "cursor"),
    ("/api/v1/feed", "after"),
    ("/api/v1/feed/stream", "after"),
]
_DATE_CASES = [
    ("/api/v1/events", {"since": None}),
    ("/api/v1/events", {"until": None}),
    ("/api/v1/stats", {"since": None, "bucket": "1000d"}),
    ("/api/v1/stats", {"since": None}),
    ("/api/v1/stats", {"since": None, "until": "9999-12-31T23:59:59Z", "bucket": "7d"}),
    ("/api/v1/timeline", {"until": None}),
    ("/api/v1/timeline", {"until": None, "days": 1000, "tz": "Asia/Tokyo"}),
    ("/api/v1/jobs", {"since": None}),
]


@pytest.mark.parametrize(("path", "param"), _CURSOR_CASES)
def test_crafted_cursors_are_a_4xx(served: Api, path: str, param: str) -> None:
    operation = schema[path]["GET"]
    for cursor in CRAFTED_CURSORS:
        case = operation.Case(query={param: cursor})
        response = case.call_and_validate(
            headers={"Authorization": f"Bearer {served.admin}"}, checks=CHECKS
        )
        assert response.status_code == 422, (path, cursor, response.text)


@pytest.mark.parametrize(("path", "params"), _DATE_CASES)
def test_extreme_dates_are_never_a_5xx(served: Api, path: str, params: dict[str, Any]) -> None:
    operation = schema[path]["GET"]
    for date in EXTREME_DATES:
        query = {k: (date if v is None else v) for k, v in params.items()}
        case = operation.Case(query=query)
        response = case.call_and_validate(
            headers={"Authorization": f"Bearer {served.admin}"}, checks=CHECKS
        )
        assert response.status_code in (200, 422), (path, query, response.text)


# -- response models are the value types' JSON (issue 17: one JSON form per model) ------


def test_response_models_list_exactly_the_keys_of_to_dict(api: Api) -> None:
    """Each response model is made from its dataclass (``schemas.json_model``): its
    OpenAPI schema names every key of the value's ``to_dict``, in order, all required, and
    nothing else; the routes answer with exactly those keys."""
    cl = api.cl
    cl.states.define("disc", ["new", "ripped"], {"new": ["ripped"]}, initial="new")
    moved = cl.states.transition("disc", "d1", "ripped", actor={"type": "user", "id": "ana"})
    job = cl.jobs.enqueue("rip", {"disc": 1}, subject=("disc", "d1"), max_attempts=2)
    (claimed,) = cl.jobs.claim("default", "w1")
    cl.jobs.log(claimed.id, "info", "ripping", lease=claimed.lease)
    failed = cl.jobs.fail(claimed.id, claimed.lease, "scratched", retry=True)
    pipeline = cl.jobs.pipeline(["rip", "encode"], subject=("disc", "d1"))
    cl.jobs.set_limit("default", concurrency=2, rate=(5, 60.0))
    schedule = cl.jobs.schedules.add("nightly", "scan", every=3600)
    cl.jobs.register_worker("w1", host="h")
    now = datetime.now(UTC)
    samples: dict[str, dict[str, Any]] = {
        "JobOut": failed.to_dict(),
        "JobErrorOut": failed.errors[0].to_dict(),
        "JobLogOut": cl.jobs.logs(claimed.id)[0].to_dict(),
        "JobMoveOut": cl.jobs.history(job.id)[0].to_dict(),
        "TransitionOut": moved.to_dict(),
        "EntityOut": cl.states.get("disc", "d1").to_dict(),
        "DayCountOut": cl.states.timeline().days[0].to_dict(),
        "EventOut": cl.events.recent(1)[0].to_dict(),
        "ActorOut": {"type": "user", "id": "ana", "name": None},
        "PipelineOut": pipeline.to_dict(),
        "JobLinksOut": cl.jobs.dependencies(pipeline.jobs[1].id).to_dict(),
        "QueueOut": cl.jobs.queue("default").to_dict(),
        "RateOut": {"limit": 5, "seconds": 60.0},
        "WorkerOut": cl.jobs.workers()[0].to_dict(),
        "ScheduleOut": {**schedule.to_dict(), "next_fires": []},
        "FireOut": ScheduleFire("nightly", now, 1, "w1", now).to_dict(),
    }
    components = api.app.openapi()["components"]["schemas"]
    for name, sample in samples.items():
        model = components[name]
        assert list(model["properties"]) == list(sample), name
        assert model["required"] == list(sample), name
    # The issue's own check, spelled out: the jobs' schema is Job.to_dict's keys.
    assert set(components["JobOut"]["properties"]) == set(failed.to_dict())
    jobs_route = api.app.openapi()["paths"]["/api/v1/jobs/{job_id}"]["get"]["responses"]["200"]
    schema_ = jobs_route["content"]["application/json"]["schema"]
    assert schema_ == {"$ref": "#/components/schemas/JobOut"}
    served = api.call("GET", f"/jobs/{failed.id}").json()
    assert list(served) == list(failed.to_dict())
    assert Job.from_dict(served) == cl.jobs.get(failed.id)
