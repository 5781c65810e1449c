"""``chronolog jobs enqueue --after``, ``jobs ls --state waiting`` and ``jobs pipeline``."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from chronolog import Chronolog
from chronolog.cli import app

runner = CliRunner()


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_enqueue_after_and_list_waiting(db_url: str) -> None:
    first = int(_run("jobs", "enqueue", "rip", "--db", db_url))
    second = int(_run("jobs", "enqueue", "remux", "--after", str(first), "--db", db_url))
    third = int(
        _run(
            "jobs", "enqueue", "notify", "--after", str(first), "--after", str(second),
            "--on-failure", "run", "--db", db_url,
        )
    )  # fmt: skip
    with Chronolog(db_url) as cl:
        assert cl.jobs.get(second).depends_on == (first,)
        got = cl.jobs.get(third)
        assert (got.state, got.depends_on, got.on_failure) == ("waiting", (first, second), "run")
    listed = json.loads(_run("jobs", "ls", "--state", "waiting", "--json", "--db", db_url))
    assert sorted(j["id"] for j in listed["items"]) == [second, third]
    assert listed["counts"]["default"] == {"pending": 1, "waiting": 2}
    table = _run("jobs", "ls", "--db", db_url)
    assert "2 waiting" in table
    shown = _run("jobs", "show", str(third), "--db", db_url)
    assert "depends_on" in shown
    assert f"[{first},{second}]" in shown
    bad = runner.invoke(app, ["jobs", "enqueue", "x", "--after", "99999", "--db", db_url])
    assert bad.exit_code == 1
    assert "after" in bad.output
    bad = runner.invoke(
        app, ["jobs", "enqueue", "x", "--after", str(first), "--on-failure", "no", "--db", db_url]
    )
    assert bad.exit_code == 1
    assert "on_failure" in bad.output
    with Chronolog(db_url) as cl:
        assert sum(sum(c.values()) for c in cl.jobs.counts().values()) == 3


def test_pipeline_command(db_url: str) -> None:
    with Chronolog(db_url) as cl:
        pipe = cl.jobs.pipeline(["rip", "remux", "transcode"], subject=("movie", 7))
        alone = cl.jobs.enqueue("alone")
    out = _run("jobs", "pipeline", str(pipe.jobs[1].id), "--db", db_url)
    assert f"pipeline {pipe.id} rip movie/7 on movie:7: pending" in out
    lines = [line for line in out.splitlines() if line.strip()[:2] in ("1.", "2.", "3.")]
    assert ["rip" in lines[0], "remux" in lines[1], "transcode" in lines[2]] == [True] * 3
    assert "waiting" in lines[1]
    assert "←" in lines[1]
    assert f"after {pipe.jobs[0].id}" in lines[1]
    data = json.loads(_run("jobs", "pipeline", str(pipe.jobs[0].id), "--json", "--db", db_url))
    assert [j["kind"] for j in data["jobs"]] == ["rip", "remux", "transcode"]
    missing = runner.invoke(app, ["jobs", "pipeline", str(alone.id), "--db", db_url])
    assert missing.exit_code == 1
    assert "not a stage of a pipeline" in missing.output
