"""The terminal UI driven by Textual's pilot on the ripping pipeline's store, both databases.

Every test acts through keys and checks the store through the library.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, RichLog, Select, Static

from chronolog import Chronolog, Client
from chronolog.examples import rip_pipeline_jobs
from chronolog.examples.rip_pipeline import add_media
from chronolog.tui import (
    DEFAULT_PROFILES,
    ChronologApp,
    DataSource,
    KindProfile,
    LocalSource,
    RemoteSource,
)
from chronolog.tui.activity import ActivityScreen, parse_filters
from chronolog.tui.confirm import ConfirmScreen
from chronolog.tui.create import CreateScreen
from chronolog.tui.entity_detail import EntityDetailScreen
from chronolog.tui.entity_list import EntityListScreen, entity_key
from chronolog.tui.help import HelpScreen
from chronolog.tui.job_detail import JobDetailScreen
from chronolog.tui.render import age, main_path, progress
from chronolog.tui.source import USER

from ._http import serving
from .tui_pipeline import NOW, fill, fixed

SIZE = (80, 24)


def driven(test: Callable[..., Any]) -> Callable[..., None]:
    """Run an async test on its own event loop (no asyncio plugin needed)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


@pytest.fixture
def pipeline(db_url: str) -> Iterator[tuple[Chronolog, dict[str, int]]]:
    """The pipeline's store, seen through a Chronolog whose clock stands still."""
    ids = fill(db_url)
    with Chronolog(db_url, clock=fixed()) as cl:
        yield cl, ids


@pytest.fixture(params=["local", "remote"])
def source(
    request: pytest.FixtureRequest, pipeline: tuple[Chronolog, dict[str, int]], db_url: str
) -> Iterator[DataSource]:
    """What the app reads the pipeline through: the store itself, or a real ``chronolog
    serve`` of it (uvicorn, its own store as another process would have) and a write
    token of user ``ana``."""
    cl, _ = pipeline
    if request.param == "local":
        yield LocalSource(cl, poll=0.2)
        return
    with served_to_ana(db_url) as remote:
        yield remote


@contextmanager
def served_to_ana(db_url: str, **options: Any) -> Iterator[RemoteSource]:
    """A :class:`RemoteSource` on a real ``chronolog serve`` of ``db_url`` (uvicorn, its own
    store as another process would have; ``options`` go to the app), with a write token of
    user ``ana`` and the fixed clock."""
    with Chronolog(db_url) as served:
        served.auth.set_member("ana", "write")
        token = served.auth.create_token("tui", "write", user="ana").secret
        with serving(served, **options) as url, Client(url, token) as client:
            remote = RemoteSource(client, clock=fixed(), heartbeat=0.2)
            try:
                yield remote
            finally:
                remote.close()  # before the server stops: it waits for open streams


def rows(pilot: Pilot[Any], table: str) -> list[str]:
    widget = pilot.app.screen.query_one(table, DataTable)
    return [str(k.value) for k in widget.rows]


async def open_row(pilot: Pilot[Any], table: str, key: str) -> None:
    widget = pilot.app.screen.query_one(table, DataTable)
    widget.focus()
    widget.move_cursor(row=rows(pilot, table).index(key))
    await pilot.press("enter")
    await pilot.pause()


async def until(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the screen did not catch up with the store"
        await pilot.pause(0.05)


def log_text(pilot: Pilot[Any]) -> str:
    return "\n".join(line.text for line in pilot.app.screen.query_one(RichLog).lines)


def text_of(pilot: Pilot[Any], selector: str) -> str:
    return str(pilot.app.screen.query_one(selector, Static).render())


@driven
async def test_list_detail_job_log_retry(pipeline, source):
    cl, ids = pipeline
    app = ChronologApp(source, live=False)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, EntityListScreen)
        active = rows(pilot, "#entities")
        assert entity_key("movie", "amelie") in active
        assert entity_key("season", "dark/s01") in active
        assert entity_key("movie", "heat") not in active  # done: not active
        assert not any(k.startswith("disc") for k in active)  # discs show in their season
        await pilot.press("tab")
        assert entity_key("movie", "heat") in rows(pilot, "#entities")
        assert "ALL" in text_of(pilot, "#mode")
        await pilot.press("tab")
        assert entity_key("movie", "heat") not in rows(pilot, "#entities")

        await open_row(pilot, "#entities", entity_key("movie", "amelie"))
        assert isinstance(app.screen, EntityDetailScreen)
        assert rows(pilot, "#jobs") == ["5", "6", str(ids["failed"])]  # rip, remux, transcode
        assert "[3] transcoding" in text_of(pilot, "#actions")

        await open_row(pilot, "#jobs", str(ids["failed"]))
        assert isinstance(app.screen, JobDetailScreen)
        assert "out of memory at frame 1337" in log_text(pilot)
        assert "exit status 3" in text_of(pilot, "#meta")
        await pilot.press("R")
        job = cl.jobs.get(ids["failed"])
        assert job.state == "pending"
        assert job.max_attempts == 2
        assert "pending" in text_of(pilot, "#meta")
        # Sent back to pending, its new attempt has not started: no "took" of the old one.
        assert "took" not in text_of(pilot, "#meta")
        assert "running for" not in text_of(pilot, "#meta")
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, EntityListScreen)


@driven
async def test_move_and_enqueue_from_detail(pipeline, source):
    cl, _ = pipeline
    profiles = {**DEFAULT_PROFILES, "movie": KindProfile(stages={"t": "transcode", "x": "extract"})}
    app = ChronologApp(source, profiles=profiles, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_row(pilot, "#entities", entity_key("movie", "amelie"))
        await pilot.press("3")  # failed → transcoding (retry the stage by hand)
        assert isinstance(app.screen, ConfirmScreen)
        assert cl.states.get("movie", "amelie").state == "failed"  # not before "y"
        await pilot.press("y")
        amelie = cl.states.get("movie", "amelie")
        assert amelie.state == "transcoding"
        assert amelie.current is not None
        writer = source.actor if isinstance(source, RemoteSource) else USER
        assert amelie.current.actor == writer  # remote: the token's user
        assert amelie.current.actor.id == ("ana" if isinstance(source, RemoteSource) else "tui")
        await pilot.press("t")
        pending = cl.jobs.list(subject=("movie", "amelie"), states="pending").items
        assert [(j.kind, j.queue) for j in pending] == [("transcode", "transcode")]
        assert str(pending[0].id) in rows(pilot, "#jobs")
        await pilot.press("x", "r")  # a key of this kind's profile; "r" is not one for movies
        kinds = [j.kind for j in cl.jobs.list(subject=("movie", "amelie"), states="pending").items]
        assert sorted(kinds) == ["extract", "transcode"]

        # Moved behind the screen's back: the key still shows the old choice, and the
        # store refuses it (expected_from) instead of making a move nobody saw.
        cl.states.transition("movie", "amelie", "failed")
        await pilot.press("1", "y")  # was "transcoded"
        assert cl.states.get("movie", "amelie").state == "failed"
        assert "[1] ripping" in text_of(pilot, "#actions")  # and the screen caught up


@driven
async def test_create_movie_season_and_disc(pipeline, source):
    cl, _ = pipeline
    app = ChronologApp(source, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        assert isinstance(app.screen, CreateScreen)
        app.screen.query_one("#kind", Select).value = "movie"
        await pilot.pause()
        await pilot.press(*"Alien", "enter")
        assert isinstance(app.screen, EntityListScreen)
        alien = cl.states.get("movie", "alien")
        assert (alien.title, alien.state) == ("Alien", "created")
        assert entity_key("movie", "alien") in rows(pilot, "#entities")
        # The cursor is on the new entity: the next keys act on it, not the previous row.
        assert app.screen.selected_key() == entity_key("movie", "alien")
        await pilot.press("enter")
        assert isinstance(app.screen, EntityDetailScreen)
        assert app.screen.entity_id == "alien"
        await pilot.press("escape")

        await pilot.press("n")
        app.screen.query_one("#kind", Select).value = "season"
        await pilot.pause()
        assert app.screen.query_one("#number-row").display
        await pilot.press(*"Dark", "tab", "2", "enter")
        season = cl.states.get("season", "dark/s02")
        assert season.title == "Dark season 2"
        assert season.attributes == {"season": 2, "name": "Dark"}

        before = cl.states.history("movie", "heat")
        await pilot.press("n")  # the same movie again: refused, nothing written
        app.screen.query_one("#kind", Select).value = "movie"
        await pilot.pause()
        await pilot.press(*"Heat", "enter")
        assert isinstance(app.screen, CreateScreen)
        assert "already exists" in text_of(pilot, "#error")
        assert cl.states.history("movie", "heat") == before
        await pilot.press("escape")

        await open_row(pilot, "#entities", entity_key("season", "dark/s01"))
        await pilot.press("a")  # add a disc to the season: the form asks for its number
        assert isinstance(app.screen, CreateScreen)
        await pilot.press("4", "enter")
        assert isinstance(app.screen, EntityDetailScreen)
        discs = cl.states.children("season", "dark/s01", child_kind="disc")
        assert sorted(d.id for d in discs) == [f"dark/s01/d{n}" for n in (1, 2, 3, 4)]
        assert cl.states.get("disc", "dark/s01/d4").state == "pending"
        assert "disc 4: pending" in text_of(pilot, "#children")


@driven
async def test_a_move_asks_first(pipeline, source):
    """``1``-``9`` ask before moving: ``n`` (or Esc) leaves the entity where it was."""
    cl, _ = pipeline
    app = ChronologApp(source, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_row(pilot, "#entities", entity_key("movie", "amelie"))
        before = cl.states.history("movie", "amelie")
        await pilot.press("1")
        assert isinstance(app.screen, ConfirmScreen)
        assert "from failed to ripping?" in str(app.screen.query_one("#question").render())
        await pilot.press("r")  # no other key acts while the question is open
        await pilot.press("n")
        assert isinstance(app.screen, EntityDetailScreen)
        await pilot.press("2", "escape")
        assert isinstance(app.screen, EntityDetailScreen)
        assert cl.states.history("movie", "amelie") == before
        assert list(cl.jobs.list(subject=("movie", "amelie"), states="pending").items) == []


@driven
async def test_list_age_is_time_in_state(pipeline, source):
    """The list's column is time in the current state, as the detail view says it."""
    cl, _ = pipeline
    cl.states.upsert("movie", "amelie", attributes={"year": 2001})  # touched now, not moved
    amelie = cl.states.get("movie", "amelie")
    in_state = age(amelie.state_since, NOW)
    assert in_state != age(amelie.updated_at, NOW)
    app = ChronologApp(source, live=False)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#entities", DataTable)
        cell = table.get_cell(entity_key("movie", "amelie"), "age")
        assert str(cell) == in_state
        await open_row(pilot, "#entities", entity_key("movie", "amelie"))
        assert f"for {in_state}" in text_of(pilot, "#summary")


@driven
async def test_stage_keys_only_where_the_machine_has_the_stage(pipeline, source):
    cl, _ = pipeline
    cl.states.define(
        "series", ["continuing", "ended"], {"continuing": ["ended"]}, initial="continuing"
    )
    cl.states.transition("series", "dark", "continuing", title="Dark")
    app = ChronologApp(source, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_row(pilot, "#entities", entity_key("series", "dark"))
        actions = text_of(pilot, "#actions")
        assert "rip" not in actions
        assert "transcode" not in actions
        await pilot.press("r", "m", "t")
        assert list(cl.jobs.list(subject=("series", "dark")).items) == []
        await pilot.press("escape")
        await open_row(pilot, "#entities", entity_key("movie", "amelie"))
        assert "[r] rip  [m] remux  [t] transcode" in text_of(pilot, "#actions")


@driven
async def test_a_refused_filter_keeps_the_focus_in_the_box(pipeline, source):
    app = ChronologApp(source, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e", "slash")
        box = app.screen.query_one("#query", Input)
        box.value = "range:2x"  # parses; the store refuses it
        await pilot.press("enter")
        assert "date_range" in text_of(pilot, "#status") or "range" in text_of(pilot, "#status")
        assert app.focused is box
        await pilot.press("q")  # typed into the box: does not quit
        assert app.is_running
        assert box.value == "range:2xq"
        box.value = "type:movie"
        await pilot.press("enter")
        assert app.focused is app.screen.query_one("#events", DataTable)


@driven
async def test_cancel_running_job(pipeline, source):
    cl, ids = pipeline
    app = ChronologApp(source, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_row(pilot, "#entities", entity_key("season", "dark/s01"))
        assert "1/3 done" in text_of(pilot, "#children")
        assert set(rows(pilot, "#jobs")) == {str(ids["running"]), str(ids["disc"])}  # disc's too
        await open_row(pilot, "#jobs", str(ids["running"]))
        assert "makemkv: disc 2" in log_text(pilot)
        await pilot.press("R")  # not failed: refused, nothing changes
        assert cl.jobs.get(ids["running"]).state == "running"
        await pilot.press("c")
        assert cl.jobs.get(ids["running"]).state == "cancelled"
        assert "cancelled" in text_of(pilot, "#meta")


@driven
async def test_activity_filters_and_help(pipeline, source):
    cl, _ = pipeline
    app = ChronologApp(source, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        assert isinstance(app.screen, ActivityScreen)
        newest = cl.events.query(limit=100, with_total=False).items
        assert rows(pilot, "#events") == [str(e.id) for e in newest]
        await pilot.press("slash")
        app.screen.query_one("#query", Input).value = "type:movie action:failed"
        await pilot.press("enter")
        wanted = cl.events.query(event_types="movie", actions="failed", with_total=False).items
        assert wanted
        assert rows(pilot, "#events") == [str(e.id) for e in wanted]
        await pilot.press("slash")
        app.screen.query_one("#query", Input).value = "bogus:1"
        await pilot.press("enter")
        assert "unknown filter 'bogus'" in text_of(pilot, "#status")
        assert rows(pilot, "#events") == [str(e.id) for e in wanted]  # unchanged
        await pilot.press("escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, EntityListScreen)


@driven
async def test_filter_by_title(pipeline):
    cl, _ = pipeline
    app = ChronologApp(LocalSource(cl), live=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", "q")  # typed into the filter: does not quit
        assert app.is_running
        assert rows(pilot, "#entities") == []
        await pilot.press("backspace", *"DARK")
        assert rows(pilot, "#entities") == ["#season", entity_key("season", "dark/s01")]
        await pilot.press("enter", "enter")
        assert isinstance(app.screen, EntityDetailScreen)
        await pilot.press("escape", "escape")
        assert entity_key("movie", "amelie") in rows(pilot, "#entities")


@driven
async def test_live_refresh_from_another_process(pipeline, source, db_url):
    """Another store (as another process would) writes; the screens follow without a key."""
    _, ids = pipeline
    app = ChronologApp(source)
    async with app.run_test(size=SIZE) as pilot:
        with Chronolog(db_url) as other:
            add_media(other, "Brazil")
            await until(pilot, lambda: entity_key("movie", "brazil") in rows(pilot, "#entities"))
            await open_row(pilot, "#entities", entity_key("season", "dark/s01"))
            await open_row(pilot, "#jobs", str(ids["running"]))
            lease = other.jobs.get(ids["running"]).lease
            other.jobs.log(ids["running"], "warning", "title 2: read retry", lease=lease)
            await until(pilot, lambda: "title 2: read retry" in log_text(pilot))
            other.jobs.complete(ids["running"], lease)
            await until(pilot, lambda: "completed" in text_of(pilot, "#meta"))
        await pilot.press("q")


@driven
async def test_a_read_token_browses_but_writes_nothing(pipeline, api):
    """Remote with a read token: every screen reads; a move or a job is refused (shown)."""
    cl, ids = pipeline
    with api.client(api.token("read")) as client:
        app = ChronologApp(RemoteSource(client), live=False)
        async with app.run_test(size=SIZE) as pilot:
            await open_row(pilot, "#entities", entity_key("movie", "amelie"))
            before = cl.states.history("movie", "amelie")
            await pilot.press("3", "y", "t")
            await pilot.pause()
            assert cl.states.history("movie", "amelie") == before
            assert [j.id for j in cl.jobs.list(subject=("movie", "amelie")).items] == [
                ids["failed"],
                6,
                5,
            ]
            shown = [n.title for n in app._notifications]  # Textual has no public accessor
            assert shown == ["Forbidden", "Forbidden"]
            await open_row(pilot, "#jobs", str(ids["failed"]))
            assert "out of memory at frame 1337" in log_text(pilot)


def test_parse_filters():
    f = parse_filters('type:movie type:season status:error target:movie/heat "read error"')
    assert f.event_types == ("movie", "season")
    assert f.statuses == ("error",)
    assert (f.target_types, f.target_id) == (("movie",), "heat")
    assert f.search == "read error"
    assert parse_filters("since:yesterday").since is not None  # the CLI's time words
    with pytest.raises(Exception, match="since: 'someday' is not a time"):
        parse_filters("since:someday")


def test_progress_follows_the_main_path(cl):
    from chronolog.examples.rip_pipeline import MEDIA_MACHINE, define_machines

    define_machines(cl)
    machine = cl.states.machine("movie")
    assert main_path(machine) == [s for s in MEDIA_MACHINE["states"] if s != "failed"]
    add_media(cl, "Heat")
    assert progress(cl.states.get("movie", "heat"), machine) == 0.0
    for state in ("ripping", "ripped", "remuxing", "failed"):
        cl.states.transition("movie", "heat", state)
    assert progress(cl.states.get("movie", "heat"), machine) == 3 / 8  # failed while remuxing


def test_help_lists_every_bound_key():
    from chronolog.tui.help import KEYS

    shown = {key for _, keys in KEYS for key, _ in keys}
    names = {"question_mark": "?", "slash": "/", "escape": "Esc", "tab": "Tab"}
    from chronolog.tui.queues import QueuesScreen
    from chronolog.tui.schedules import SchedulesScreen

    screens = (
        ChronologApp,
        EntityListScreen,
        EntityDetailScreen,
        JobDetailScreen,
        QueuesScreen,
        SchedulesScreen,
    )
    for screen in screens:
        for binding in screen.BINDINGS:
            key = binding.key if hasattr(binding, "key") else binding[0]
            assert names.get(key, key) in shown, f"{screen.__name__}: {key} missing from help"
    assert "r m t" in shown
    assert "1-9" in shown


def test_stage_option():
    from chronolog.cli.tui import parse_stages

    assert parse_stages(["season:r=rip", "season:x=extract", "movie:t=transcode"]) == {
        "season": {"r": "rip", "x": "extract"},
        "movie": {"t": "transcode"},
    }
    for bad in ("season", "season:rr=rip", "season:r=", ":r=rip", "season:1=rip"):
        with pytest.raises(ValueError, match="KIND:KEY=JOB"):
            parse_stages([bad])


@pytest.mark.slow
@driven
async def test_store_left_by_the_jobs_example(sqlite_template: Path, tmp_path: Path):
    """The job side of the pipeline run for real (``chronolog exec`` per stage), then browsed:
    entities without a machine show the share of their jobs done."""
    path = tmp_path / "jobs.db"
    shutil.copyfile(sqlite_template, path)
    outcome = rip_pipeline_jobs.run(f"sqlite:///{path}", timeout=120)
    assert outcome.failed_job is not None
    with Chronolog(f"sqlite:///{path}") as cl:
        app = ChronologApp(LocalSource(cl), live=False)
        async with app.run_test(size=SIZE) as pilot:
            key = entity_key("episode", rip_pipeline_jobs.FLAKY)
            assert key in rows(pilot, "#entities")  # no machine: always active
            await open_row(pilot, "#entities", key)
            assert "100%" in text_of(pilot, "#summary")
            assert len(rows(pilot, "#jobs")) == 3  # remux, transcode (retried once), filebot
            await open_row(pilot, "#jobs", str(outcome.failed_job.id))
            assert "out of memory at frame 1337" in log_text(pilot)
            assert "attempt 1:" in text_of(pilot, "#meta")
            assert "attempt 2/" in text_of(pilot, "#meta")


def test_server_option_needs_a_token_and_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from chronolog.cli import app as cli

    monkeypatch.delenv("CHRONOLOG_TOKEN", raising=False)
    runner = CliRunner()
    missing = runner.invoke(cli, ["tui", "--server", "http://127.0.0.1:9"])
    assert missing.exit_code == 1
    assert "--server needs --token" in missing.output
    # Port 9 (discard) is closed on a test machine: the check fails before any screen.
    away = runner.invoke(
        cli, ["tui", "--server", "http://127.0.0.1:9"], env={"CHRONOLOG_TOKEN": "x"}
    )
    assert away.exit_code == 1
    assert "cannot use http://127.0.0.1:9" in away.output


def test_remote_changes_follow_the_feed(cl: Chronolog) -> None:
    """RemoteSource's change token: still while the project is quiet, moved by every commit
    (from the feed's end, not its history), and a cursor the server refuses is replaced."""
    cl.events.record("movie", "created")  # history: never delivered
    token = cl.auth.create_token("tui", "read").secret
    with serving(cl) as url, Client(url, token) as client:
        source = RemoteSource(client, heartbeat=0.1, reconnect=0.05)
        stale = RemoteSource(client, heartbeat=0.1, reconnect=0.05)
        try:
            seen = source.wait(source.changes(), 1)  # starts following: one refresh
            assert seen == 1
            assert source.wait(seen, 0.5) == seen  # heartbeats move nothing
            cl.states.transition("movie", "heat", "ripping")
            moved = source.wait(seen, 15)
            assert moved > seen
            stale.start("garbage")  # refused (422): it starts again from the feed's end
            deadline = time.monotonic() + 15
            while stale.changes() < 2:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            before = stale.changes()
            cl.events.record("movie", "deleted")
            assert stale.wait(before, 15) > before
        finally:
            source.close()
            stale.close()


@driven
async def test_queues_and_workers_screen(pipeline, source):
    from chronolog.tui.queues import QueuesScreen

    cl, _ = pipeline
    cl.jobs.set_limit("rip", concurrency=2, rate=(4, 60))
    worker_id = cl.jobs.register_worker("ripper-09", host="attic", queues=["rip"])
    app = ChronologApp(source, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w")
        assert isinstance(app.screen, QueuesScreen)
        queues = [q.name for q in cl.jobs.queues()]
        assert rows(pilot, "#queues") == queues
        assert rows(pilot, "#workers") == [worker_id]
        table = app.screen.query_one("#queues", DataTable)
        rip = table.get_row("rip")
        assert "≤2 running, 4/60s" in str(rip[-1])
        assert str(rip[-2]) == "active"
        assert "ripper-09" in str(app.screen.query_one("#workers", DataTable).get_row(worker_id)[0])
        table.focus()
        table.move_cursor(row=queues.index("rip"))
        await pilot.press("p")
        await until(pilot, lambda: cl.jobs.queue("rip").paused)
        await until(pilot, lambda: str(table.get_row("rip")[-2]) == "paused")
        await pilot.press("p")
        await until(pilot, lambda: not cl.jobs.queue("rip").paused)
        await pilot.press("escape")
        assert isinstance(app.screen, EntityListScreen)
    cl.jobs.deregister_worker(worker_id)
    cl.jobs.set_limit("rip")
