"""Retried writes are made once (issue 14.14): ``Idempotency-Key`` on ``POST /events``,
sent by the ``Client``, which retries when an answer is lost."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from chronolog import Chronolog, Client, ValidationError
from chronolog.server.testing import SyncASGITransport

from ._http import BASE, Api, error_of

BATCH = {"events": [{"event_type": "scan", "action": f"a{i}"} for i in range(5)]}


def _total(cl: Chronolog) -> int:
    return cl.events.query(limit=1).total or 0


def test_a_repeated_key_replays_the_first_answer(api: Api) -> None:
    key = uuid.uuid4().hex
    first = api.call("POST", "/events", json=BATCH, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = api.call("POST", "/events", json=BATCH, headers={"Idempotency-Key": key})
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert _total(api.cl) == 5
    single = {"event_type": "scan", "action": "one"}
    one = api.call("POST", "/events", json=single, headers={"Idempotency-Key": "k-1"})
    assert api.call("POST", "/events", json=single, headers={"Idempotency-Key": "k-1"}).json() == (
        one.json()
    )
    assert _total(api.cl) == 6
    # Keys are per project: another project's same key is another write.
    other = api.token("write", project="other")
    elsewhere = api.call(
        "POST", "/events", json=BATCH, token=other, headers={"Idempotency-Key": key}
    )
    assert elsewhere.status_code == 201
    assert elsewhere.json() != first.json()


def test_a_key_reused_for_another_body_is_refused(api: Api) -> None:
    headers = {"Idempotency-Key": "reused"}
    assert api.call("POST", "/events", json=BATCH, headers=headers).status_code == 201
    other = {"events": [{"event_type": "scan", "action": "different"}]}
    refused = api.call("POST", "/events", json=other, headers=headers)
    assert refused.status_code == 422
    assert "Idempotency-Key" in error_of(refused)["message"]
    assert _total(api.cl) == 5
    for bad in ("x" * 201, "na\u00efve".encode()):
        response = api.call("POST", "/events", json=BATCH, headers={"Idempotency-Key": bad})
        assert response.status_code == 422, (bad, response.text)
    assert _total(api.cl) == 5


class _LosesFirstAnswer(httpx.BaseTransport):
    """Hands every request to the app, but drops the first answer of a POST on the way
    back (as a crash or a cut connection would, after the server committed)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.lost = 0
        self.keys: list[str | None] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST":
            self.keys.append(request.headers.get("idempotency-key"))
            if self.lost == 0:
                self.lost += 1
                raise httpx.ReadError("connection reset by peer", request=request)
        return response


def test_the_client_retries_a_lost_answer_without_duplicating(api: Api) -> None:
    with SyncASGITransport(api.app) as inner:
        flaky = _LosesFirstAnswer(inner)
        with httpx.Client(transport=flaky, base_url=BASE) as http:
            client = Client(BASE, api.admin, http=http)
            client.retries = 2
            ids = client.events.record_many(BATCH["events"])
            one = client.events.record("scan", "single")
    assert len(ids) == 5
    assert _total(api.cl) == 6  # the batch once, not twice
    assert [e.id for e in api.cl.events.query(limit=10).items][1:] == sorted(ids, reverse=True)
    assert api.cl.events.get(one).action == "single"
    assert flaky.keys[0] is not None
    assert flaky.keys[0] == flaky.keys[1]  # the retry carried the same key
    assert flaky.keys[2] != flaky.keys[0]  # each call has its own


def test_concurrent_requests_with_one_key_write_once(db_url: str) -> None:
    with Chronolog(db_url) as cl:
        results: list[Any] = []
        barrier = threading.Barrier(4)

        def send() -> None:
            barrier.wait()
            results.append(cl.events.record_once(BATCH["events"], "same-key", request_hash="h"))

        threads = [threading.Thread(target=send) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(results) == 4
        assert len({tuple(ids) for ids, _ in results}) == 1
        assert sorted(replayed for _, replayed in results) == [False, True, True, True]
        assert _total(cl) == 5


def test_keys_expire(db_url: str) -> None:
    now = [datetime.now(UTC)]
    with Chronolog(db_url, clock=lambda: now[0]) as cl:
        ids = cl.events.record_many(BATCH["events"], idempotency_key="k")
        assert cl.events.record_many(BATCH["events"], idempotency_key="k") == ids
        now[0] += timedelta(hours=25)
        assert cl.events.expire_idempotency_keys("1d") == 1
        assert cl.events.record_many(BATCH["events"], idempotency_key="k") != ids
        with pytest.raises(ValidationError, match="idempotency key"):
            cl.events.record_many(BATCH["events"], idempotency_key="")
        assert orjson.dumps(ids)
