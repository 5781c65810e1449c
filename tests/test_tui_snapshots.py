"""SVG snapshots of every TUI screen at 80x24 (pytest-textual-snapshot), on fixed data.

The store is the ripping pipeline's, filled with a ticking fake clock; the
TUI reads it with a clock that stands still, so every age and id is the same
on every run. SQLite only: the screens draw the same rows on PostgreSQL (the
pilot tests check those rows on both). Update with ``--snapshot-update``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select

from chronolog import Chronolog
from chronolog.tui import ChronologApp, LocalSource
from chronolog.tui.entity_list import entity_key

from .tui_pipeline import fill, fixed

SIZE = (80, 24)


@pytest.fixture
def app(sqlite_template: Path, tmp_path: Path) -> Iterator[ChronologApp]:
    path = tmp_path / "pipeline.db"
    shutil.copyfile(sqlite_template, path)
    fill(f"sqlite:///{path}")
    with Chronolog(f"sqlite:///{path}", clock=fixed()) as cl:
        yield ChronologApp(LocalSource(cl), live=False)


async def _open(pilot: Pilot[object], table: str, key: str) -> None:
    widget = pilot.app.screen.query_one(table, DataTable)
    widget.focus()
    widget.move_cursor(row=[str(k.value) for k in widget.rows].index(key))
    await pilot.press("enter")
    await pilot.pause()


def test_entity_list(app, snap_compare):
    assert snap_compare(app, terminal_size=SIZE)


def test_entity_list_all(app, snap_compare):
    assert snap_compare(app, terminal_size=SIZE, press=["tab"])


def test_season_detail_with_discs(app, snap_compare):
    async def run_before(pilot: Pilot[object]) -> None:
        await _open(pilot, "#entities", entity_key("season", "dark/s01"))

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_failed_movie_detail(app, snap_compare):
    async def run_before(pilot: Pilot[object]) -> None:
        await _open(pilot, "#entities", entity_key("movie", "amelie"))

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_failed_job_with_log(app, snap_compare):
    async def run_before(pilot: Pilot[object]) -> None:
        await _open(pilot, "#entities", entity_key("movie", "amelie"))
        await _open(pilot, "#jobs", "7")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_create_form(app, snap_compare):
    async def run_before(pilot: Pilot[object]) -> None:
        await pilot.press("n")
        pilot.app.screen.query_one("#kind", Select).value = "season"
        pilot.app.screen.query_one("#title", Input).value = "Dark"
        pilot.app.screen.query_one("#number", Input).value = "2"
        for box in pilot.app.screen.query(Input):
            box.cursor_blink = False  # a blinking cursor differs from shot to shot
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_activity(app, snap_compare):
    assert snap_compare(app, terminal_size=SIZE, press=["e"])


def test_schedules(app, snap_compare):
    """Three schedules: one fired at the clock's time, one paused (cursor on the fired one)."""
    assert isinstance(app.source, LocalSource)
    cl = app.source.cl
    cl.jobs.schedules.add("nightly-scan", "library_scan", cron="0 3 * * *", tz="Europe/Berlin")
    cl.jobs.schedules.add("reconcile", "reconcile_downloads", every=300, queue="downloads")
    cl.jobs.schedules.add("report", "send_report", every=3600)
    cl.jobs.schedules.pause("report")
    cl.jobs.schedules.fire_due("test")

    async def run_before(pilot: Pilot[object]) -> None:
        await pilot.press("s")
        pilot.app.screen.query_one("#schedules", DataTable).move_cursor(row=1)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_help(app, snap_compare):
    assert snap_compare(app, terminal_size=SIZE, press=["question_mark"])
