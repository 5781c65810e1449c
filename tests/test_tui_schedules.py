"""The TUI's schedules view (``s``) driven by Textual's pilot, locally and through a real
``chronolog serve``, on both databases. Every test acts through keys and checks the store
through the library."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from textual.widgets import DataTable

from chronolog import Chronolog
from chronolog.errors import NotFound
from chronolog.models import Target
from chronolog.tui import ChronologApp, DataSource, LocalSource, RemoteSource
from chronolog.tui.confirm import ConfirmScreen
from chronolog.tui.entity_list import EntityListScreen
from chronolog.tui.help import KEYS, HelpScreen
from chronolog.tui.job_detail import JobDetailScreen
from chronolog.tui.render import clock
from chronolog.tui.schedules import SchedulesScreen
from chronolog.tui.source import USER

from ._http import Api
from .test_tui import driven, rows, served_to_ana, text_of, until
from .tui_pipeline import NOW, fixed

SIZE = (80, 24)


@pytest.fixture
def store(db_url: str) -> Iterator[Chronolog]:
    """Three schedules, one fired once and one paused, seen with a clock that stands still
    (``NOW``: 20:00 UTC, a whole hour, so both interval schedules are due at it)."""
    with Chronolog(db_url, clock=fixed()) as cl:
        s = cl.jobs.schedules
        s.add("nightly-scan", "library_scan", cron="0 3 * * *", tz="Europe/Berlin", queue="maint")
        s.add("reconcile", "reconcile_downloads", every=300, queue="downloads")
        s.add("report", "send_report", every=3600)
        s.pause("report")
        s.fire_due("test")  # reconcile fires at NOW; a paused schedule fires nothing
        yield cl


@pytest.fixture(params=["local", "remote"])
def source(request: pytest.FixtureRequest, store: Chronolog, db_url: str) -> Iterator[DataSource]:
    """The store itself, or a real ``chronolog serve`` of it with a write token of ``ana``."""
    if request.param == "local":
        yield LocalSource(store, poll=0.2)
        return
    # The server's own firing is off: on its real clock every schedule of the store
    # (filled at NOW, weeks ago or ahead) would fire or miss behind the test's back.
    with served_to_ana(db_url, schedule_seconds=None) as remote:
        yield remote


def cell(app: ChronologApp, name: str, column: str) -> str:
    return str(app.screen.query_one("#schedules", DataTable).get_cell(name, column))


async def select(app: ChronologApp, name: str) -> None:
    table = app.screen.query_one("#schedules", DataTable)
    table.focus()
    table.move_cursor(row=[str(k.value) for k in table.rows].index(name))


@driven
async def test_lists_schedules_with_next_and_last_fire(store, source):
    reconcile = store.jobs.schedules.get("reconcile")
    assert reconcile.last_fire_at == NOW
    assert reconcile.next_fire_at == NOW + timedelta(minutes=5)
    assert reconcile.last_job_id is not None
    app = ChronologApp(source, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        assert isinstance(app.screen, SchedulesScreen)
        assert rows(pilot, "#schedules") == ["nightly-scan", "reconcile", "report"]
        # 03:00 in Berlin is 02:00 UTC the next day: six hours after 20:00 UTC.
        assert cell(app, "nightly-scan", "next") == "in 6h"
        assert cell(app, "nightly-scan", "when") == "0 3 * * *"
        assert cell(app, "nightly-scan", "queue") == "maint"
        assert cell(app, "nightly-scan", "last") == "never"
        assert cell(app, "reconcile", "kind") == "reconcile_downloads"  # cut on screen only
        assert cell(app, "reconcile", "when") == "every 5m"
        assert cell(app, "reconcile", "next") == "in 5m"
        assert cell(app, "reconcile", "last") == "0s ago"
        assert cell(app, "reconcile", "status") == "active"
        # Paused at NOW, before its fire time came: it is due now and will not fire.
        assert cell(app, "report", "status") == "paused"
        assert cell(app, "report", "next") == "now"
        assert "3 schedules, 1 paused" in text_of(pilot, "#status")

        await select(app, "reconcile")
        await pilot.pause()
        detail = text_of(pilot, "#detail")
        assert "every 300s" in detail
        assert "Enqueues reconcile_downloads on downloads" in detail
        assert f"Next {clock(reconcile.next_fire_at)} UTC (in 5m)" in detail
        assert f"Last {clock(NOW)} UTC  job #{reconcile.last_job_id}  1 fired" in detail
        await select(app, "nightly-scan")
        await pilot.pause()
        assert "cron 0 3 * * * (Europe/Berlin)" in text_of(pilot, "#detail")
        assert "Last never" in text_of(pilot, "#detail")

        await pilot.press("enter")  # never fired: nothing to open
        assert isinstance(app.screen, SchedulesScreen)
        await select(app, "reconcile")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, JobDetailScreen)
        assert app.screen.job_id == reconcile.last_job_id
        assert "reconcile_downloads" in text_of(pilot, "#meta")
        await pilot.press("escape")
        assert isinstance(app.screen, SchedulesScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, EntityListScreen)


@driven
async def test_pause_resume_and_delete_change_the_store(store, source):
    app = ChronologApp(source, live=False)
    writer = source.actor if isinstance(source, RemoteSource) else USER
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await select(app, "reconcile")
        await pilot.press("p")
        assert store.jobs.schedules.get("reconcile").paused
        assert cell(app, "reconcile", "status") == "paused"
        paused = store.events.query(event_types="schedule", actions="paused").items[0]
        assert (paused.target, paused.actor) == (
            Target("schedule", "reconcile", "reconcile"),
            writer,
        )
        await pilot.press("p")
        assert not store.jobs.schedules.get("reconcile").paused
        assert cell(app, "reconcile", "status") == "active"
        await select(app, "report")
        await pilot.press("p")  # shown paused: p resumes it
        assert not store.jobs.schedules.get("report").paused
        assert cell(app, "report", "status") == "active"

        await select(app, "nightly-scan")
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Delete the schedule nightly-scan" in str(app.screen.query_one("#question").render())
        await pilot.press("n")
        assert isinstance(app.screen, SchedulesScreen)
        assert store.jobs.schedules.get("nightly-scan").kind == "library_scan"
        await pilot.press("d", "y")
        assert isinstance(app.screen, SchedulesScreen)
        with pytest.raises(NotFound):
            store.jobs.schedules.get("nightly-scan")
        assert rows(pilot, "#schedules") == ["reconcile", "report"]
        removed = store.events.query(event_types="schedule", actions="removed").items[0]
        assert (removed.target, removed.actor) == (
            Target("schedule", "nightly-scan", "nightly-scan"),
            writer,
        )
        # The reconcile job it enqueued stays: deleting a schedule keeps its jobs.
        assert [j.kind for j in store.jobs.list(kinds="reconcile_downloads").items] == [
            "reconcile_downloads"
        ]


@driven
async def test_follows_changes_made_elsewhere(store, source, db_url):
    """Another store (as another process would) pauses, adds and removes schedules; the
    screen follows without a key (schedule changes are events: the live signal carries them)."""
    app = ChronologApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        assert cell(app, "nightly-scan", "status") == "active"
        with Chronolog(db_url) as other:
            other.jobs.schedules.pause("nightly-scan")
            await until(pilot, lambda: cell(app, "nightly-scan", "status") == "paused")
            other.jobs.schedules.add("backup", "db_backup", cron="30 1 * * *")
            await until(pilot, lambda: "backup" in rows(pilot, "#schedules"))
            other.jobs.schedules.remove("report")
            await until(pilot, lambda: "report" not in rows(pilot, "#schedules"))
        assert rows(pilot, "#schedules") == ["backup", "nightly-scan", "reconcile"]
        await pilot.press("q")


@driven
async def test_a_read_token_sees_schedules_but_changes_none(store: Chronolog, api: Api):
    with api.client(api.token("read")) as client:
        app = ChronologApp(RemoteSource(client, clock=fixed()), live=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("s")
            assert rows(pilot, "#schedules") == ["nightly-scan", "reconcile", "report"]
            await select(app, "reconcile")
            await pilot.press("p", "d", "y")
            await pilot.pause()
            assert not store.jobs.schedules.get("reconcile").paused  # and not deleted either
            shown = [n.title for n in app._notifications]  # Textual has no public accessor
            assert shown == ["Forbidden", "Forbidden"]
            assert cell(app, "reconcile", "status") == "active"


@driven
async def test_no_schedules_and_the_help(cl: Chronolog):
    app = ChronologApp(LocalSource(cl), live=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        assert rows(pilot, "#schedules") == []
        assert "No schedules yet" in text_of(pilot, "#detail")
        await pilot.press("p", "d", "enter")  # nothing under the cursor: nothing happens
        assert isinstance(app.screen, SchedulesScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, SchedulesScreen)
    sections = dict(KEYS)
    assert ("s", "schedules") in sections["Everywhere"]
    assert {key for key, _ in sections["Schedules"]} == {"p", "d", "Enter"}
