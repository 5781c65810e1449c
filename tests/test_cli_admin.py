"""CLI for what needed Python: projects, machines, retention policies, cleanup, the demo's
refusal to overwrite a store. Checked through the library, on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from chronolog import Chronolog, NewEvent
from chronolog.cli import app

runner = CliRunner()


def _run(*args: str, input: str | None = None) -> str:
    result = runner.invoke(app, list(args), input=input, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_projects_ls_and_create(db_url: str) -> None:
    db = ["--db", db_url]
    assert "project media created" in _run(
        "projects", "create", "media", "--title", "Media library", "--strict-statuses", *db
    )
    listed = _run("projects", "ls", *db)
    assert "Media library" in listed
    assert "(strict)" in listed
    data = json.loads(_run("projects", "ls", "--json", *db))
    assert [p["name"] for p in data["items"]] == ["default", "media"]
    taken = runner.invoke(app, ["projects", "create", "media", *db])
    assert taken.exit_code == 1
    assert "already exists" in taken.output
    bad = runner.invoke(app, ["projects", "create", "Not Valid", *db])
    assert bad.exit_code == 1
    assert "not valid" in bad.output
    with Chronolog(db_url) as cl:
        assert cl.projects.get("media").strict_statuses is True
    _run("events", "log", "scan", "done", "--project", "media", *db)
    with Chronolog(db_url, project="media") as cl:
        assert cl.events.query().total == 1


MOVIE_YAML = """\
kind: movie
states: [missing, downloading, downloaded, imported]
transitions:
  missing: [downloading]
  downloading: [downloaded, missing]
  downloaded: [imported]
initial: missing
terminal: [imported]
"""


def test_machines_define_ls_show(db_url: str, tmp_path: Path) -> None:
    db = ["--db", db_url]
    path = tmp_path / "movie.yaml"
    path.write_text(MOVIE_YAML)
    assert "defined movie: 4 states" in _run("machines", "define", str(path), *db)
    both = tmp_path / "more.json"
    both.write_text(
        json.dumps(
            {
                "season": {"states": ["new", "done"], "transitions": {"new": ["done"]}},
                "disc": {"states": ["inserted", "ripped"], "transitions": {}},
            }
        )
    )
    _run("machines", "define", str(both), *db)
    with Chronolog(db_url) as cl:
        movie = cl.states.machine("movie")
        assert movie is not None
        assert movie.initial == "missing"
        assert movie.allowed("downloading") == ("downloaded", "missing")
        assert [m.kind for m in cl.states.machines()] == ["disc", "movie", "season"]
        cl.states.transition("movie", "heat", "missing")
    listed = _run("machines", "ls", *db)
    assert "missing → downloading → downloaded → imported" in listed
    shown = _run("machines", "show", "movie", *db)
    assert "missing (initial)" in shown
    assert "imported (terminal)" in shown
    # show --json is what define reads: a round trip.
    exported = _run("machines", "show", "movie", "--json", *db)
    assert json.loads(exported)["transitions"]["downloading"] == ["downloaded", "missing"]
    _run("machines", "define", "-", *db, input=exported)
    # A bad file changes nothing and says what is wrong.
    bad = tmp_path / "bad.yaml"
    bad.write_text(MOVIE_YAML.replace("terminal: [imported]", "terminal: [gone]"))
    refused = runner.invoke(app, ["machines", "define", str(bad), *db])
    assert refused.exit_code == 1
    assert "terminal names unknown states ['gone']" in refused.output
    dropping = tmp_path / "drop.yaml"
    dropping.write_text("kind: movie\nstates: [downloading]\ntransitions: {}\n")
    refused = runner.invoke(app, ["machines", "define", str(dropping), *db])
    assert refused.exit_code == 1
    assert "missing" in refused.output
    with Chronolog(db_url) as cl:
        assert cl.states.machine("movie") == movie
    nothing = runner.invoke(app, ["machines", "show", "series", *db])
    assert nothing.exit_code == 1
    assert "has no state machine" in nothing.output


def test_retention_show_set_and_cleanup_options(db_url: str) -> None:
    db = ["--db", db_url]
    shown = _run("retention", "show", *db)
    assert "finished_jobs" in shown
    assert "forever" in shown
    _run("retention", "set", "--keep-events", "30d", "--keep", "job_logs=7d", *db)
    _run("cleanup", "--keep-finished-jobs", "2w", "--keep-day-rollups", "400d", "--quiet", *db)
    with Chronolog(db_url) as cl:
        assert cl.retention.policies() == {
            "events": timedelta(days=30),
            "job_logs": timedelta(days=7),
            "finished_jobs": timedelta(weeks=2),
            "day_rollups": timedelta(days=400),
        }
    assert json.loads(_run("retention", "show", "--json", *db))["job_logs"] == 7 * 86400
    _run("retention", "set", "--keep-events", "forever", *db)
    with Chronolog(db_url) as cl:
        assert "events" not in cl.retention.policies()
        now = datetime.now(UTC)
        cl.events.record_many(
            [NewEvent("scan", "old", occurred_at=now - timedelta(days=3)) for _ in range(7)]
            + [NewEvent("scan", "new")]
        )
    cleaned = json.loads(_run("cleanup", "--older-than", "2d", "--batch-size", "2", "--json", *db))
    assert cleaned["older_than_removed"] == 7
    with Chronolog(db_url) as cl:
        assert [e.action for e in cl.events.query(event_types=["scan"]).items] == ["new"]
    for args, message in (
        (["retention", "set", "--keep-events", "soon"], "not a duration"),
        (["retention", "set", "--keep", "nonsense=1d"], "unknown kind"),
        (["retention", "set"], "nothing to set"),
    ):
        refused = runner.invoke(app, [*args, *db])
        assert refused.exit_code == 1, args
        assert message in refused.output


def test_demo_never_writes_into_a_store_that_holds_data(db_url: str) -> None:
    """Defect 2: ``demo --db`` replaced an existing store without asking."""
    with Chronolog(db_url) as cl:
        cl.events.record("deletion", "deleted", target={"type": "movie", "id": "1"})
    refused = runner.invoke(app, ["demo", "--db", db_url, "--no-serve"])
    assert refused.exit_code == 1
    assert "already holds" in refused.output
    assert "--fresh" in refused.output
    with Chronolog(db_url) as cl:
        assert cl.events.query().total == 1
        assert [p.name for p in cl.projects.list()] == ["default"]


def test_demo_refuses_another_applications_database(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    refused = runner.invoke(app, ["demo", "--db", f"sqlite:///{path}", "--no-serve"])
    assert refused.exit_code == 1
    assert "another application" in refused.output
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert tables == ["customers"]
