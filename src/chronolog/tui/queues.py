"""The queues-and-workers view (``w``): every queue's jobs by state, pause and limits, and
the registered workers with their heartbeat age; ``p`` pauses or resumes a queue."""

from __future__ import annotations

from typing import cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from ..errors import ChronologError
from ..jobs.queues import QueueInfo
from ..jobs.workers import WorkerInfo
from .live import LiveScreen
from .render import state_style

__all__ = ["QueuesScreen"]

_STATES = ("pending", "running", "completed", "failed", "cancelled")

Data = tuple[list[QueueInfo], list[WorkerInfo]]


class QueuesScreen(LiveScreen[Data]):
    """Queues above, workers below; ``p`` toggles the selected queue's pause, ``Esc`` back."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape", "back", "Back"),
        Binding("p", "toggle_pause", "Pause/Resume"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text("Queues", style="bold"), classes="section")
        queues: DataTable[Text] = DataTable(id="queues", cursor_type="row")
        queues.add_column("Queue", key="queue", width=16)
        for state in _STATES:
            queues.add_column(state, key=state, width=9)
        queues.add_column("Status", key="status", width=7)
        queues.add_column("Limits", key="limits", width=22)
        yield queues
        yield Static(Text("Workers", style="bold"), classes="section")
        workers: DataTable[Text] = DataTable(id="workers", cursor_type="row")
        for label, key, width in (
            ("Name", "name", 18),
            ("Host", "host", 12),
            ("Queues", "queues", 14),
            ("Running", "running", 12),
            ("Heartbeat", "beat", 16),
        ):
            workers.add_column(label, key=key, width=width)
        yield workers
        yield Static(id="status", classes="line")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "queues and workers"
        self.reload()
        self.query_one("#queues", DataTable).focus()

    def read(self) -> Data:
        """Every queue and every registered worker."""
        source = self.chrono.source
        return source.queues(), source.workers()

    def failed(self, exc: ChronologError) -> None:
        self.query_one("#status", Static).update(Text(exc.message, style="red"))

    def show(self, data: Data) -> None:
        """Draw a fresh read (the cursor stays on its queue)."""
        queues, workers = data
        table = cast("DataTable[Text]", self.query_one("#queues", DataTable))
        row = table.cursor_row
        table.clear()
        for q in queues:
            table.add_row(*_queue_cells(q), key=q.name)
        if queues:
            table.move_cursor(row=min(row, len(queues) - 1))
        wtable = cast("DataTable[Text]", self.query_one("#workers", DataTable))
        wtable.clear()
        for w in workers:
            wtable.add_row(*_worker_cells(w), key=w.id)
        stale = sum(1 for w in workers if w.stale)
        self.query_one("#status", Static).update(
            Text(
                f"{len(queues)} queues, {len(workers)} workers"
                + (f", {stale} stale" if stale else "")
                + " · p pause/resume",
                style="dim",
            )
        )

    def _selected(self) -> QueueInfo | None:
        table = cast("DataTable[Text]", self.query_one("#queues", DataTable))
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        for q in self.chrono.source.queues():
            if q.name == key:
                return q
        return None

    def action_toggle_pause(self) -> None:
        try:
            queue = self._selected()
            if queue is None:
                return
            source = self.chrono.source
            done = source.resume(queue.name) if queue.paused else source.pause(queue.name)
        except ChronologError as exc:
            self.chrono.report(exc)
            return
        self.notify(f"queue {done.name} {'paused' if done.paused else 'resumed'}")
        self.reload()

    def action_back(self) -> None:
        self.app.pop_screen()


def _queue_cells(q: QueueInfo) -> tuple[Text, ...]:
    limits = []
    if q.concurrency is not None:
        limits.append(f"≤{q.concurrency} running")
    if q.rate is not None:
        limits.append(f"{q.rate[0]}/{q.rate[1]:g}s")
    return (
        Text(q.name, overflow="ellipsis", no_wrap=True),
        *(
            Text(str(q.counts.get(s, 0)), style=state_style(s) if q.counts.get(s) else "dim")
            for s in _STATES
        ),
        Text("paused", style="yellow") if q.paused else Text("active", style="green"),
        Text(", ".join(limits) or "-", overflow="ellipsis", no_wrap=True),
    )


def _worker_cells(w: WorkerInfo) -> tuple[Text, ...]:
    beat = f"{w.heartbeat_age:.0f}s ago"
    return (
        Text(w.name + (" (remote)" if w.remote else ""), overflow="ellipsis", no_wrap=True),
        Text(w.host, overflow="ellipsis", no_wrap=True),
        Text("all" if w.queues is None else ", ".join(w.queues), overflow="ellipsis"),
        Text(", ".join(str(i) for i in w.running) or "idle", overflow="ellipsis", no_wrap=True),
        Text(beat + " stale", style="bold red") if w.stale else Text(beat, style="dim"),
    )
