"""``ChronologApp``: the Textual application, its screens, and the live-refresh thread."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from textual import on
from textual.app import App
from textual.binding import Binding
from textual.message import Message

from ..errors import ChronologError
from .activity import ActivityScreen
from .create import CreateScreen
from .entity_detail import EntityDetailScreen
from .entity_list import EntityListScreen
from .help import HelpScreen
from .job_detail import JobDetailScreen
from .messages import OpenCreate, OpenEntity, OpenJob, StoreChanged
from .profiles import DEFAULT_PROFILES, KindProfile
from .source import DataSource

__all__ = ["ChronologApp", "StoreChanged"]

_SLICE = 0.25
"""Longest single wait of the refresh thread, in seconds."""


class _Wakeup(Message):
    """Posted by the refresh thread to the app (``post_message`` is thread-safe)."""


class ChronologApp(App[None]):
    """The chronolog terminal UI over a :class:`~chronolog.tui.source.DataSource`.

    ``profiles`` sets per-kind stage keys, child kinds and numbered forms
    (default: the ripping pipeline's). ``live=False`` turns the refresh
    thread off (tests). How long another process's change can go unseen on
    SQLite is the source's ``poll`` (PostgreSQL pushes changes at once).
    """

    TITLE = "chronolog"
    CSS = """
    Screen { background: $surface; }
    .section { color: $text-muted; text-style: bold; height: 1; margin-top: 1; }
    .line { height: auto; }
    .error { color: $error; height: auto; }
    DataTable { height: auto; }
    Screen > DataTable { height: 1fr; }
    """
    BINDINGS = [  # noqa: RUF012 - Textual reads the class attribute
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("e", "activity", "Activity"),
        Binding("w", "queues", "Queues/Workers", show=False),  # in the help (?)
        Binding("s", "schedules", "Schedules", show=False),
    ]

    def __init__(
        self,
        source: DataSource,
        *,
        profiles: Mapping[str, KindProfile] | None = None,
        live: bool = True,
    ) -> None:
        super().__init__()
        self.source = source
        self.profiles = dict(DEFAULT_PROFILES if profiles is None else profiles)
        self._live = live
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def live(self) -> bool:
        """Whether screens follow the store's changes (a thread per app, one per job log)."""
        return self._live

    def profile(self, kind: str) -> KindProfile:
        """The settings of ``kind`` (the defaults when it has none)."""
        return self.profiles.get(kind) or KindProfile()

    def on_mount(self) -> None:
        self.push_screen(EntityListScreen())
        if self._live:
            self._watcher = threading.Thread(
                target=self._watch, name="chronolog-tui-watch", daemon=True
            )
            self._watcher.start()

    def _watch(self) -> None:
        """Wait for the store's change signal; tell the active screen (at most ~5 times/s)."""
        seen = self.source.changes()
        while not self._stop.is_set():
            try:
                # Short waits, so that quitting never waits long for this thread.
                now = self.source.wait(seen, _SLICE)
            except ChronologError:
                self._stop.wait(2.0)  # the store is away: try again later
                continue
            if now != seen and not self._stop.is_set():
                seen = now
                self._stop.wait(0.2)  # let a burst of writes settle into one refresh
                # Not call_from_thread: it would wait for the event loop, which may be
                # joining this very thread on exit.
                self.post_message(_Wakeup())

    @on(_Wakeup)
    def _forward_change(self) -> None:
        self.screen.post_message(StoreChanged())

    def stop_watching(self) -> None:
        """Stop the refresh thread and wait for it."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(5)
            self._watcher = None

    async def action_quit(self) -> None:
        self.stop_watching()
        self.exit()

    def on_unmount(self) -> None:
        self.stop_watching()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_activity(self) -> None:
        if not isinstance(self.screen, ActivityScreen):
            self.push_screen(ActivityScreen())

    # Screens ask for other screens by message; only the app knows them all.

    @on(OpenEntity)
    def _open_entity(self, message: OpenEntity) -> None:
        self.push_screen(EntityDetailScreen(message.kind, message.entity_id))

    @on(OpenJob)
    def _open_job(self, message: OpenJob) -> None:
        self.push_screen(JobDetailScreen(message.job_id))

    @on(OpenCreate)
    def _open_create(self, message: OpenCreate) -> None:
        screen = CreateScreen(kinds=message.kinds, kind=message.kind, parent=message.parent)
        self.push_screen(screen, message.done)

    def action_queues(self) -> None:
        from .queues import QueuesScreen

        if not isinstance(self.screen, QueuesScreen):
            self.push_screen(QueuesScreen())

    def action_schedules(self) -> None:
        from .schedules import SchedulesScreen

        if not isinstance(self.screen, SchedulesScreen):
            self.push_screen(SchedulesScreen())

    def report(self, exc: ChronologError) -> None:
        """Show a chronolog error as a notification (the screen stays as it was)."""
        self.notify(exc.message, title=type(exc).__name__, severity="error", timeout=6)
