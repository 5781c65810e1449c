"""Dependencies and pipelines over HTTP and through ``chronolog.Client``, on both databases."""

from __future__ import annotations

import pytest

from chronolog import NotFound, ValidationError
from chronolog.jobs import NewJob

from ._http import Api, error_of


def test_enqueue_after_and_the_job_json(api: Api) -> None:
    a = api.call("POST", "/jobs", json={"kind": "a"}).json()
    b = api.call("POST", "/jobs", json={"kind": "b", "after": [a["id"]], "on_failure": "run"})
    assert b.status_code == 201, b.text
    body = b.json()
    assert body["state"] == "waiting"
    assert body["depends_on"] == [a["id"]]
    assert (body["on_failure"], body["waiting_for"]) == ("run", 1)
    assert api.call("GET", f"/jobs/{a['id']}").json()["dependents"] == 1
    waiting = api.call("GET", "/jobs", params={"states": "waiting"}).json()
    assert [j["id"] for j in waiting["items"]] == [body["id"]]
    links = api.call("GET", f"/jobs/{a['id']}/dependencies").json()
    assert [d["id"] for d in links["dependents"]] == [body["id"]]
    assert links["dependents"][0]["state"] == "waiting"
    back = api.call("GET", f"/jobs/{body['id']}/dependencies").json()
    assert [x["id"] for x in back["after"]] == [a["id"]]
    assert back["on_failure"] == "run"
    # A batch links its jobs by ref; a cycle is a 422 and writes nothing.
    ids = api.call(
        "POST",
        "/jobs",
        json={"jobs": [{"kind": "x", "ref": "x"}, {"kind": "y", "after": ["x", a["id"]]}]},
    ).json()["ids"]
    assert api.call("GET", f"/jobs/{ids[1]}").json()["depends_on"] == [ids[0], a["id"]]
    before = api.cl.jobs.counts()
    cycle = api.call(
        "POST",
        "/jobs",
        json={
            "jobs": [
                {"kind": "p", "ref": "p", "after": ["q"]},
                {"kind": "q", "ref": "q", "after": ["p"]},
            ]
        },
    )
    assert cycle.status_code == 422
    assert "cycle" in error_of(cycle)["message"]
    unknown = api.call("POST", "/jobs", json={"kind": "z", "after": [987654]})
    assert unknown.status_code == 422
    assert error_of(unknown)["details"]["field"] == "after"
    bad = api.call("POST", "/jobs", json={"kind": "z", "after": [a["id"]], "on_failure": "x"})
    assert bad.status_code == 422
    assert api.cl.jobs.counts() == before


def test_another_projects_job_is_refused(api: Api) -> None:
    theirs = api.cl.using("default").jobs.enqueue("mine")
    other = api.token("write", "other")
    refused = api.call("POST", "/jobs", token=other, json={"kind": "x", "after": [theirs.id]})
    assert refused.status_code == 422
    assert api.call("GET", f"/jobs/{theirs.id}/dependencies", token=other).status_code == 404


def test_pipelines_over_http(api: Api) -> None:
    made = api.call(
        "POST",
        "/pipelines",
        json={
            "stages": [{"kind": "rip"}, {"kind": "remux"}, {"kind": "transcode"}],
            "subject": ["movie", "42"],
        },
    )
    assert made.status_code == 201, made.text
    pipe = made.json()
    assert pipe["name"] == "rip movie/42"
    assert pipe["state"] == "pending"
    assert [j["state"] for j in pipe["jobs"]] == ["pending", "waiting", "waiting"]
    last = pipe["jobs"][-1]["id"]
    assert api.call("GET", f"/jobs/{last}/pipeline").json()["id"] == pipe["id"]
    assert api.call("GET", f"/pipelines/{pipe['id']}").json()["jobs"] == pipe["jobs"]
    alone = api.call("POST", "/jobs", json={"kind": "alone"}).json()
    assert api.call("GET", f"/jobs/{alone['id']}/pipeline").status_code == 404
    assert api.call("GET", "/pipelines/999999").status_code == 404
    assert api.call("POST", "/pipelines", json={"stages": []}).status_code == 422


def test_client_mirrors_the_library(api: Api) -> None:
    client = api.client()
    a = client.jobs.enqueue("a")
    b = client.jobs.enqueue("b", after=[a.id])
    assert (b.state, b.depends_on, b.waiting_for) == ("waiting", (a.id,), 1)
    assert [d.id for d in client.jobs.dependencies(a.id).dependents] == [b.id]
    ids = client.jobs.enqueue_many([NewJob("c", ref="c"), NewJob("d", after=("c",))])
    assert client.jobs.get(ids[1]).depends_on == (ids[0],)
    pipe = client.jobs.pipeline(["rip", NewJob("remux", {"fast": True})], subject=("season", 2))
    assert [j.kind for j in pipe.jobs] == ["rip", "remux"]
    assert pipe.jobs[1].payload == {"fast": True}
    assert pipe.subject == ("season", "2")
    assert client.jobs.pipeline_of(pipe.jobs[1].id) == api.cl.jobs.pipeline_get(pipe.id)
    assert client.jobs.pipeline_of(a.id) is None
    with pytest.raises(ValidationError) as refused:
        client.jobs.enqueue("x", after=[424242])
    assert refused.value.details["field"] == "after"
    with pytest.raises(NotFound):
        client.jobs.pipeline_get(424242)
    # The worker protocol releases dependents as the library does.
    (job,) = client.jobs.claim(None)
    assert job.id == a.id
    client.jobs.complete(job.id, job.lease)
    assert client.jobs.get(b.id).state == "pending"
