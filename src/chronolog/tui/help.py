"""``?``: every key of every screen."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["KEYS", "HelpScreen"]

KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Everywhere",
        (
            ("?", "this help"),
            ("e", "activity (events)"),
            ("w", "queues and workers"),
            ("s", "schedules"),
            ("q", "quit"),
            ("Esc", "back"),
        ),
    ),
    (
        "Entity list",
        (
            ("Tab", "active / all entities"),
            ("/", "filter by title (Esc: clear)"),
            ("Enter", "open the entity"),
            ("n", "new entity"),
            ("↑ ↓", "move"),
        ),
    ),
    (
        "Entity",
        (
            ("1-9", "move to the next state shown (y confirms)"),
            ("r m t", "enqueue a rip/remux/transcode job (kinds with those stages)"),
            ("a", "add a child (a disc to a season)"),
            ("Enter", "open the job under the cursor"),
        ),
    ),
    ("Job", (("R", "retry (failed or cancelled)"), ("c", "cancel (pending or running)"))),
    ("New entity", (("Enter", "create"), ("Tab", "next field"))),
    ("Activity", (("/", "filter: type:movie status:error"), ("Enter", "apply the filter"))),
    ("Queues and workers", (("p", "pause / resume the queue"),)),
    (
        "Schedules",
        (
            ("p", "pause / resume the schedule"),
            ("d", "delete it (y confirms)"),
            ("Enter", "open its last job"),
        ),
    ),
)

_KEY_WIDTH = max(len(key) for _, keys in KEYS for key, _ in keys)
"""The key column's width, the same in every section so that they line up."""


class HelpScreen(ModalScreen[None]):
    """Every key, by screen; any of ``?``, ``Esc``, ``q`` closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Horizontal {
        width: 80; height: auto; max-height: 100%;
        border: round $accent; background: $panel; padding: 0 1;
    }
    HelpScreen Static { width: 1fr; }
    """
    BINDINGS = [  # noqa: RUF012
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close"),
        Binding("q", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        # Two columns of about equal height, so that all of it fits 24 lines. A section's
        # title is a line of its own, not a cell: in the key column it would widen that
        # column for every section ("Queues and workers") and wrap the descriptions.
        halves = (KEYS[:2] + KEYS[4:6], KEYS[2:4] + KEYS[6:])
        with Horizontal():
            for half in halves:
                parts: list[RenderableType] = []
                for section, keys in half:
                    table = Table.grid(padding=(0, 1))
                    table.add_column(style="bold", no_wrap=True, width=_KEY_WIDTH)
                    table.add_column()
                    for key, what in keys:
                        table.add_row(key, what)
                    parts += [Text(section, style="underline"), table]
                yield Static(Group(*parts))

    def action_close(self) -> None:
        self.dismiss(None)
