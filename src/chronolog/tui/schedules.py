"""The schedules view (``s``): every recurring job with its timing, next and last fire, pause;
``p`` pauses or resumes a schedule, ``d`` deletes one (after ``y``), ``Enter`` opens its last job.

What ``cl.jobs.schedules`` offers is what the keys do: there is no "fire now"
in the library (a schedule fires when its time comes, exactly once), so there
is no key for it either.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from ..errors import ChronologError
from ..jobs import Schedule
from .confirm import ConfirmScreen
from .live import LiveScreen
from .messages import OpenJob
from .render import age, clock

__all__ = ["SchedulesScreen", "next_text", "when_text"]

Data = tuple[list[Schedule], datetime]


class SchedulesScreen(LiveScreen[Data]):
    """Schedules by name; the one under the cursor in full below. ``Esc`` back."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape", "back", "Back"),
        Binding("p", "toggle_pause", "Pause/Resume"),
        Binding("d", "delete", "Delete"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.shown: dict[str, Schedule] = {}
        """The schedules drawn last, by name: the keys act on what the screen shows."""
        self.now: datetime | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        table: DataTable[Text] = DataTable(id="schedules", cursor_type="row")
        for label, key, width in (
            ("Schedule", "name", 13),
            ("Job kind", "kind", 10),
            ("Queue", "queue", 8),
            ("When", "when", 11),
            ("Next", "next", 8),
            ("Last", "last", 8),
            ("Status", "status", 6),
        ):
            table.add_column(label, key=key, width=width)
        yield table
        yield Static(id="detail", classes="line")
        yield Static(id="status", classes="line")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "schedules"
        self.reload()
        self.query_one("#schedules", DataTable).focus()

    def on_screen_resume(self) -> None:
        self.reload()  # back from a job: a fire may have happened meanwhile

    def read(self) -> Data:
        """Every schedule, and the clock (next and last fire are shown against it)."""
        source = self.chrono.source
        return source.schedules(), source.now()

    def failed(self, exc: ChronologError) -> None:
        self.query_one("#status", Static).update(Text(exc.message, style="red"))

    def show(self, data: Data) -> None:
        """Draw a fresh read (the cursor stays on its schedule, or its row if it is gone)."""
        schedules, now = data
        table = cast("DataTable[Text]", self.query_one("#schedules", DataTable))
        current = self.selected_schedule()
        row = table.cursor_row
        table.clear()
        self.shown = {s.name: s for s in schedules}
        self.now = now
        for s in schedules:
            table.add_row(*_cells(s, now), key=s.name)
        if schedules:
            names = [s.name for s in schedules]
            table.move_cursor(
                row=names.index(current.name)
                if current is not None and current.name in self.shown
                else min(row, len(schedules) - 1)
            )
        self._draw_detail()
        paused = sum(1 for s in schedules if s.paused)
        self.query_one("#status", Static).update(
            Text(
                f"{len(schedules)} schedules"
                + (f", {paused} paused" if paused else "")
                + " · p pause/resume · d delete · Enter last job",
                style="dim",
            )
        )

    def selected_schedule(self) -> Schedule | None:
        """The schedule under the cursor, as drawn last (``None`` when there are none)."""
        table = cast("DataTable[Text]", self.query_one("#schedules", DataTable))
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.shown.get(str(key))

    @on(DataTable.RowHighlighted, "#schedules")
    def _highlighted(self) -> None:
        self._draw_detail()

    def _draw_detail(self) -> None:
        s = self.selected_schedule()
        detail = self.query_one("#detail", Static)
        if s is None or self.now is None:
            detail.update(
                Text(
                    "No schedules yet: add one with cl.jobs.schedules.add() "
                    "or chronolog schedules add.",
                    style="dim",
                )
            )
            return
        detail.update(_detail(s, self.now))

    def action_toggle_pause(self) -> None:
        """Pause the schedule under the cursor, or resume it if the screen shows it paused."""
        schedule = self.selected_schedule()
        if schedule is None:
            return
        source = self.chrono.source
        try:
            if schedule.paused:
                done = source.resume_schedule(schedule.name)
            else:
                done = source.pause_schedule(schedule.name)
        except ChronologError as exc:
            self.chrono.report(exc)
        else:
            self.notify(f"schedule {done.name} {'paused' if done.paused else 'resumed'}")
        self.reload()

    def action_delete(self) -> None:
        """Ask, then delete the schedule under the cursor (the jobs it enqueued stay)."""
        schedule = self.selected_schedule()
        if schedule is None:
            return
        question = Text("Delete the schedule ")
        question.append(schedule.name, style="bold")
        question.append(f" ({schedule.timing}, {schedule.kind})? The jobs it enqueued stay.")

        def answered(yes: bool | None) -> None:
            if yes:
                self._remove(schedule.name)

        self.app.push_screen(ConfirmScreen(question), answered)

    def _remove(self, name: str) -> None:
        try:
            self.chrono.source.remove_schedule(name)
        except ChronologError as exc:
            self.chrono.report(exc)
        else:
            self.notify(f"schedule {name} deleted")
        self.reload()

    @on(DataTable.RowSelected, "#schedules")
    def _open_last_job(self) -> None:
        schedule = self.selected_schedule()
        if schedule is None:
            return
        if schedule.last_job_id is None:
            self.notify(f"schedule {schedule.name} has not fired yet")
            return
        self.post_message(OpenJob(schedule.last_job_id))

    def action_back(self) -> None:
        self.app.pop_screen()


def when_text(s: Schedule) -> str:
    """The timing in a few characters: the cron fields, or ``every 5m``."""
    if s.cron is not None:
        return s.cron
    assert s.every is not None
    seconds = int(s.every.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"every {seconds // size}{unit}"
    return f"every {seconds}s"


def next_text(s: Schedule, now: datetime) -> Text:
    """When it fires next: ``in 5m``, ``now``; a time already passed (no worker fired it, or
    it is paused: missed fire times then follow ``catch_up``) is ``5m late``."""
    if s.next_fire_at == now:
        return Text("now", style="dim" if s.paused else "")
    if s.next_fire_at > now:
        return Text(age(s.next_fire_at, now), style="dim" if s.paused else "")
    return Text(f"{age(s.next_fire_at, now)} late", style="dim" if s.paused else "yellow")


def _cells(s: Schedule, now: datetime) -> tuple[Text, ...]:
    return (
        Text(s.name, overflow="ellipsis", no_wrap=True),
        Text(s.kind, overflow="ellipsis", no_wrap=True),
        Text(s.queue, overflow="ellipsis", no_wrap=True),
        Text(when_text(s), overflow="ellipsis", no_wrap=True),
        next_text(s, now),
        Text(age(s.last_fire_at, now) + " ago", style="dim")
        if s.last_fire_at is not None
        else Text("never", style="dim"),
        Text("paused", style="yellow") if s.paused else Text("active", style="green"),
    )


def _detail(s: Schedule, now: datetime) -> Text:
    """The selected schedule in full: its timing, what it enqueues, its fires (UTC times)."""
    text = Text()
    text.append(s.name, style="bold")
    text.append(f"  {s.timing}", style="dim")
    text.append(f"\nEnqueues {s.kind} on {s.queue}")
    if s.priority:
        text.append(f"  priority {s.priority}")
    text.append(f"  max attempts {s.max_attempts}  catch-up {s.catch_up}", style="dim")
    text.append("\nNext ")
    text.append(f"{clock(s.next_fire_at)} UTC")
    text.append(" (")
    text.append_text(next_text(s, now))
    text.append(")")
    if s.paused:
        text.append("  paused", style="yellow")
    text.append("\nLast ")
    if s.last_fire_at is None:
        text.append("never", style="dim")
    else:
        text.append(f"{clock(s.last_fire_at)} UTC")
        if s.last_job_id is not None:
            text.append(f"  job #{s.last_job_id}")
    text.append(f"  {s.fires} fired")
    if s.missed:
        text.append(f", {s.missed} missed", style="yellow")
    return text
