"""The landing view: entities grouped by kind, with state and pipeline progress."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Static

from ..states import Entity, Machine
from .live import LiveScreen
from .messages import OpenCreate, OpenEntity
from .render import age, bar, progress, state_text

__all__ = ["EntityListScreen", "entity_key", "fold", "group_entities"]

_SEP = "\x1f"  # between kind and id in a row key: neither may hold it in practice


def entity_key(kind: str, id: str) -> str:
    """The row key of an entity."""
    return f"{kind}{_SEP}{id}"


def fold(text: str) -> str:
    """Text for matching: case and accents dropped ("Amélie" matches "ame")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def group_entities(entities: list[Entity], search: str = "") -> list[tuple[str, list[Entity]]]:
    """Entities whose title (or id) holds ``search``, grouped by kind; groups and members
    most recently updated first."""
    needle = fold(search.strip())
    groups: dict[str, list[Entity]] = {}
    for entity in entities:
        if needle and needle not in fold(entity.title or entity.id):
            continue
        groups.setdefault(entity.kind, []).append(entity)

    def touched(e: Entity) -> tuple[float, str]:
        return (max(e.updated_at, e.state_since).timestamp(), e.id)

    ordered = [(k, sorted(v, key=touched, reverse=True)) for k, v in groups.items()]
    return sorted(ordered, key=lambda g: (-touched(g[1][0])[0], g[0]))


_Read = tuple[dict[str, Machine], list[Entity], datetime]


class EntityListScreen(LiveScreen[_Read]):
    """Active entities (``Tab``: all), by kind; ``Enter`` opens one, ``n`` creates one."""

    BINDINGS = [  # noqa: RUF012
        Binding("tab", "toggle_active", "Active/All", priority=True),
        Binding("slash", "filter", "Filter"),
        Binding("n", "new", "New"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.show_all = False
        self.search = ""
        self.machines: dict[str, Machine] = {}
        self.entities: list[Entity] = []
        self.now = datetime.now(UTC)
        self.select: str | None = None
        """The row to put the cursor on at the next draw (an entity just created)."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="mode", classes="line")
        yield Input(placeholder="filter by title", id="filter", compact=True)
        table: DataTable[Text] = DataTable(id="entities", cursor_type="row", zebra_stripes=False)
        table.add_column("Title", key="title", width=28)
        table.add_column("State", key="state", width=11)
        table.add_column("Progress", key="progress", width=17)
        table.add_column("In state", key="age", width=8)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.reload()
        self.query_one("#entities", DataTable).focus()

    def on_screen_resume(self) -> None:
        self.reload()

    def read(self) -> _Read:
        """The machines and the entities (active or all), and the clock."""
        source = self.chrono.source
        return source.machines(), source.entities(show_all=self.show_all), source.now()

    def show(self, data: _Read) -> None:
        """Redraw from a fresh read, keeping the cursor on the same row."""
        self.machines, self.entities, self.now = data
        self.redraw()

    def redraw(self) -> None:
        """Draw the entities read last, as the filter wants them."""
        now = self.now
        table = cast("DataTable[Text]", self.query_one("#entities", DataTable))
        current = self.selected_key()
        table.clear()
        # Children of a profile's child kind (discs) show in their parent's view instead.
        hidden = {p.child_kind for p in self.chrono.profiles.values() if p.child_kind}
        entities = [e for e in self.entities if not (e.parent is not None and e.kind in hidden)]
        groups = group_entities(entities, self.search)
        shown = 0
        for kind, members in groups:
            table.add_row(
                Text(f"▸ {kind} ({len(members)})", style="bold"),
                Text(""),
                Text(""),
                Text(""),
                key=f"#{kind}",
            )
            machine = self.machines.get(kind)
            for e in members:
                shown += 1
                table.add_row(
                    Text("  " + (e.title or e.id), overflow="ellipsis", no_wrap=True),
                    state_text(e.state, machine),
                    bar(progress(e, machine), 10, failed=e.state == "failed"),
                    # Time in the current state: what the detail view says too.
                    Text(age(e.state_since, now), style="dim"),
                    key=entity_key(e.kind, e.id),
                )
        rows = [str(k.value) for k in table.rows]
        if self.select is not None:
            if self.select in rows:
                current = self.select
            self.select = None
        if current in rows:
            table.move_cursor(row=rows.index(current), animate=False)
        elif groups:  # first time, or the row went (filtered out, or finished)
            table.move_cursor(row=1, animate=False)
        which = "all" if self.show_all else "active"
        filtered = f'  filter: "{self.search}"' if self.search else ""
        mode = Text.assemble(
            (f" {which.upper()} ", "reverse bold"),
            f"  {shown} entities in {len(groups)} kinds{filtered}",
            ("   Tab: active/all", "dim"),
        )
        self.query_one("#mode", Static).update(mode)

    def selected_key(self) -> str | None:
        """The key of the row under the cursor."""
        table = self.query_one("#entities", DataTable)
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            return None
        return key

    def action_toggle_active(self) -> None:
        if self.focused is self.query_one("#filter", Input):
            self.query_one("#entities", DataTable).focus()
            return
        self.show_all = not self.show_all
        self.reload()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self.search = ""
        self.redraw()
        self.query_one("#entities", DataTable).focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.search = event.value
        self.redraw()  # the filter works on what is on screen: no query per key

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        # The box goes (the mode line shows the filter; "/" brings the box back with its
        # text), which also shows that Enter was taken: the next Enter opens a row.
        self.query_one("#filter", Input).display = False
        self.query_one("#entities", DataTable).focus()

    @on(DataTable.RowSelected, "#entities")
    def _open(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if key is None or key.startswith("#"):
            return
        kind, _, ident = key.partition(_SEP)
        self.post_message(OpenEntity(kind, ident))

    def action_new(self) -> None:
        self.post_message(OpenCreate(sorted(self.machines), done=self._created))

    def _created(self, entity: Entity | None) -> None:
        """Put the cursor on the entity just created, so the next keys act on it."""
        if entity is None:
            return
        self.select = entity_key(entity.kind, entity.id)
        if self.search and fold(self.search.strip()) not in fold(entity.title or entity.id):
            self.action_clear_filter()  # a filter that hides it would hide the cursor too
        self.reload()
