"""``chronolog entities``: ls, show and move, checked through the library."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from chronolog import Chronolog
from chronolog.cli import app

runner = CliRunner()


def test_move_show_and_ls(db_url: str) -> None:
    with Chronolog(db_url) as cl:
        cl.states.define(
            "movie",
            ["new", "missing", "downloading", "downloaded"],
            {"new": ["missing"], "missing": ["downloading"], "downloading": ["downloaded"]},
            initial="new",
            terminal=["downloaded"],
        )
    db = ["--db", db_url]
    moved = runner.invoke(
        app, ["entities", "move", "movie", "603", "missing", "--title", "Heat", *db]
    )
    assert moved.exit_code == 0, moved.output
    assert "new → missing" in moved.output
    moved = runner.invoke(
        app,
        ["entities", "move", "movie", "603", "downloading", "--metadata", '{"client": "sab"}', *db],
    )
    assert moved.exit_code == 0, moved.output
    refused = runner.invoke(app, ["entities", "move", "movie", "603", "missing", *db])
    assert refused.exit_code == 1
    assert "allowed from 'downloading'" in refused.output
    stale = runner.invoke(
        app, ["entities", "move", "movie", "603", "downloaded", "--expect", "missing", *db]
    )
    assert stale.exit_code == 1
    with Chronolog(db_url) as cl:
        entity = cl.states.get("movie", "603")
        assert entity.state == "downloading"
        assert entity.current is not None
        assert entity.current.metadata == {"client": "sab"}
        assert [t.to_state for t in cl.states.history("movie", "603")] == ["missing", "downloading"]
    shown = runner.invoke(app, ["entities", "show", "movie", "603", "--json", *db])
    assert shown.exit_code == 0, shown.output
    data = orjson.loads(shown.output)
    assert data["state"] == "downloading"
    assert [t["to_state"] for t in data["history"]] == ["missing", "downloading"]
    table = runner.invoke(app, ["entities", "show", "movie", "603", *db])
    assert "history" in table.output
    assert "downloading" in table.output
    listed = runner.invoke(
        app, ["entities", "ls", "--kind", "movie", "--state", "downloading", "--json", *db]
    )
    assert [e["id"] for e in orjson.loads(listed.output)["items"]] == ["603"]
    active = runner.invoke(app, ["entities", "ls", "--active", "--json", *db])
    assert len(orjson.loads(active.output)["items"]) == 1
    missing = runner.invoke(app, ["entities", "show", "movie", "nope", *db])
    assert missing.exit_code == 1
    assert "not found" in missing.output
    anywhere = runner.invoke(app, ["entities", "ls", "--state", "downloading", "--json", *db])
    assert [e["id"] for e in orjson.loads(anywhere.output)["items"]] == ["603"]
    finished = runner.invoke(app, ["entities", "ls", "--finished", "--json", *db])
    assert orjson.loads(finished.output)["items"] == []
    since = runner.invoke(app, ["entities", "ls", "--since", "1h", "--until", "now", "--json", *db])
    assert [e["id"] for e in orjson.loads(since.output)["items"]] == ["603"]
    before = runner.invoke(app, ["entities", "ls", "--until", "2h", "--json", *db])
    assert orjson.loads(before.output)["items"] == []
    bad = runner.invoke(app, ["entities", "ls", "--since", "whenever", *db])
    assert bad.exit_code == 1
    orphan = runner.invoke(app, ["entities", "ls", "--parent", "season/nope", *db])
    assert orphan.exit_code == 1
    assert "not found" in orphan.output


def test_every_entities_command_has_help() -> None:
    for command in ("ls", "show", "move"):
        result = runner.invoke(app, ["entities", command, "--help"])
        assert result.exit_code == 0
        assert len(result.output.strip()) > 40
