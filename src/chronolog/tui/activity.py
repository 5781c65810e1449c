"""The activity view: the newest events streaming in, filtered as ``chronolog events ls``."""

from __future__ import annotations

import shlex
from datetime import UTC
from typing import cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Static

from .._time import parse_when
from ..errors import ChronologError, ValidationError
from ..models import Event
from ..query import EventQuery
from .live import LiveScreen
from .render import clock, state_style

__all__ = ["FILTER_HELP", "ActivityScreen", "parse_filters"]

FILTER_HELP = (
    "type:T action:A actor-type:T actor-id:I target:TYPE/ID status:S range:24h|7d|30d|all "
    "since:ISO until:ISO, other words: search"
)

_MULTI = {
    "type": "event_types",
    "action": "actions",
    "actor-type": "actor_types",
    "status": "statuses",
}
_SINGLE = {"actor-id": "actor_id", "target-type": "target_type", "target-id": "target_id"}
_NONE = EventQuery()


def parse_filters(text: str) -> EventQuery:
    """``type:movie status:error heat`` → the :class:`~chronolog.EventQuery` of
    ``chronolog events ls`` with the same words (times read as the CLI reads them).

    Keys may repeat where the CLI option may (type, action, actor-type, status).
    """
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ValidationError(f"filter: {exc}") from None
    multi: dict[str, list[str]] = {v: [] for v in _MULTI.values()}
    single: dict[str, str] = {}
    search: list[str] = []
    date_range: str | None = None
    since = until = None
    for word in words:
        key, sep, value = word.partition(":")
        if not sep or not value:
            search.append(word)
        elif key in _MULTI:
            multi[_MULTI[key]].append(value)
        elif key in _SINGLE:
            single[_SINGLE[key]] = value
        elif key == "target":
            ttype, slash, tid = value.partition("/")
            single["target_type"] = ttype
            if slash:
                single["target_id"] = tid
        elif key == "range":
            date_range = value
        elif key == "since":
            since = parse_when(value, "since", tz=UTC, relative=True)
        elif key == "until":
            until = parse_when(value, "until", tz=UTC, relative=True)
        else:
            raise ValidationError(f"unknown filter {key!r}; filters: {FILTER_HELP}")
    target_type = single.get("target_type")
    return EventQuery(
        event_types=tuple(multi["event_types"]) or None,
        actions=tuple(multi["actions"]) or None,
        actor_types=tuple(multi["actor_types"]) or None,
        statuses=tuple(multi["statuses"]) or None,
        actor_id=single.get("actor_id"),
        target_types=None if target_type is None else (target_type,),
        target_id=single.get("target_id"),
        search=" ".join(search) or None,
        date_range=date_range,
        since=since,
        until=until,
    )


class ActivityScreen(LiveScreen[list[Event]]):
    """``/`` edits the filter (Enter applies it), ``Esc`` goes back."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape", "back", "Back"),
        Binding("slash", "filter", "Filter"),
    ]
    LIMIT = 100

    def __init__(self) -> None:
        super().__init__()
        self.filters = _NONE

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder=FILTER_HELP, id="query", compact=True)
        yield Static(id="status", classes="line")
        table: DataTable[Text] = DataTable(id="events", cursor_type="row")
        for label, key, width in (
            ("When", "at", 19),
            ("Type", "type", 8),
            ("Action", "action", 11),
            ("Target", "target", 20),
            ("By", "by", 8),
        ):
            table.add_column(label, key=key, width=width)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "activity"
        self.reload()
        self.query_one("#events", DataTable).focus()

    def read(self) -> list[Event]:
        """The newest events matching the filter."""
        return self.chrono.source.events(self.filters, self.LIMIT)

    def failed(self, exc: ChronologError) -> None:
        self.query_one("#status", Static).update(Text(exc.message, style="red"))

    def show(self, events: list[Event]) -> None:
        """Draw a fresh read."""
        table = cast("DataTable[Text]", self.query_one("#events", DataTable))
        table.clear()
        for event in events:
            table.add_row(*_cells(event), key=str(event.id))
        self.query_one("#status", Static).update(
            Text(f"newest {len(events)} events (live)", style="dim")
        )

    @on(Input.Submitted, "#query")
    def _apply(self, event: Input.Submitted) -> None:
        # A filter the parser or the store refuses keeps the focus in the box, so the
        # next keys edit it instead of firing the screen's shortcuts.
        try:
            filters = parse_filters(event.value)
            events = self.chrono.source.events(filters, self.LIMIT)
        except ChronologError as exc:
            self.query_one("#status", Static).update(Text(exc.message, style="red"))
            self.query_one("#query", Input).focus()
            return
        self.filters = filters
        self._generation += 1  # a background read of the old filter must not paint over
        self.show(events)
        self.query_one("#events", DataTable).focus()

    def action_filter(self) -> None:
        self.query_one("#query", Input).focus()

    def action_back(self) -> None:
        if self.focused is self.query_one("#query", Input):
            self.query_one("#events", DataTable).focus()
        else:
            self.app.pop_screen()


def _cells(event: Event) -> tuple[Text, ...]:
    target = event.target
    if target is None:
        what = "-"
    elif target.type == "job":
        what = f"#{target.id} {target.title or ''}"
    else:
        what = target.title or f"{target.type}/{target.id}"
    actor = event.actor
    who = "-" if actor is None else actor.label
    style = "bold red" if event.status == "error" or event.error else state_style(event.action)
    return (
        Text(clock(event.occurred_at), style="dim"),
        Text(event.event_type, overflow="ellipsis", no_wrap=True),
        Text(event.action, style=style, overflow="ellipsis", no_wrap=True),
        Text(what, overflow="ellipsis", no_wrap=True),
        Text(who or "-", overflow="ellipsis", no_wrap=True),
    )
