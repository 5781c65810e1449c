"""Actors everywhere: API writes without an actor record the token's member (or the token),
and every interface shows an actor one way (``Actor.label``). Both databases."""

from __future__ import annotations

import pytest

from chronolog import Actor

from ._http import Api


def test_api_writes_without_an_actor_record_the_tokens_member(api: Api) -> None:
    cl = api.cl
    cl.auth.set_member("ana", "write")
    ana = cl.auth.create_token("ana's", "write", user="ana").secret
    service = cl.auth.create_token("ingest", "write")
    cl.states.define("movie", ["new", "done"], {"new": ["done"]}, initial="new")

    created = api.call("POST", "/events", token=ana, json={"event_type": "scan", "action": "ran"})
    assert created.status_code == 201, created.text
    batch = api.call(
        "POST",
        "/events",
        token=service.secret,
        json={
            "events": [
                {"event_type": "scan", "action": "batch"},
                {"event_type": "scan", "action": "named", "actor": {"type": "rule", "id": "7"}},
            ]
        },
    )
    assert batch.status_code == 201, batch.text
    moved = api.call("POST", "/entities/movie/heat/transitions", token=ana, json={"to": "new"})
    assert moved.status_code == 201, moved.text
    job = api.call("POST", "/jobs", token=service.secret, json={"kind": "rip"})
    assert job.status_code == 201, job.text

    actors = {e.action: e.actor for e in cl.events.query(limit=100).items}
    assert actors["ran"] == Actor("user", "ana")
    assert actors["batch"] == Actor("token", str(service.token.id))
    assert actors["named"] == Actor("rule", "7")  # an actor that is sent is kept
    assert actors["new"] == Actor("user", "ana")  # the transition's event
    (move,) = cl.states.history("movie", "heat")
    assert move.actor == Actor("user", "ana")
    (enqueued,) = cl.jobs.history(job.json()["id"])
    assert enqueued.actor[:2] == ("token", str(service.token.id))


@pytest.mark.parametrize(
    ("actor", "shown"),
    [
        (Actor("user", "ana"), "ana"),
        (Actor("user", "ana", "Ana Lima"), "Ana Lima"),
        (Actor("token", "3"), "token #3"),
        (Actor("worker", "ripper-01"), "worker:ripper-01"),
        (Actor("system"), "system"),
    ],
)
def test_one_display_form(actor: Actor, shown: str) -> None:
    from chronolog.server.dashboard.render import actor_label

    assert actor.label == shown
    assert actor_label(actor) == shown
    assert actor_label((actor.type, actor.id, actor.name)) == shown
