"""The create form: kind, title, a number (season, disc) where the kind's profile asks for one,
parent and attributes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import orjson
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label, Select, Static

from ..errors import ChronologError, ValidationError
from ..states import Entity
from .profiles import slug

if TYPE_CHECKING:
    from .app import ChronologApp

__all__ = ["CreateScreen", "entity_fields"]


def entity_fields(
    chrono: ChronologApp,
    kind: str,
    title: str,
    number: str,
    parent: str,
    attributes: str,
) -> tuple[str, str | None, tuple[str, str] | None, dict[str, Any] | None]:
    """The (id, title, parent, attributes) of a new entity from the form's text."""
    profile = chrono.profile(kind)
    title = title.strip()
    parent_key: tuple[str, str] | None = None
    if parent.strip():
        pkind, sep, pid = parent.strip().partition("/")
        if not sep or not pkind or not pid:
            raise ValidationError("parent must be kind/id, e.g. season/dark/s01", field="parent")
        parent_key = (pkind, pid)
    attrs: dict[str, Any] = {}
    if attributes.strip():
        try:
            loaded = orjson.loads(attributes)
        except orjson.JSONDecodeError:
            raise ValidationError("attributes must be a JSON object", field="attributes") from None
        if not isinstance(loaded, dict):
            raise ValidationError("attributes must be a JSON object", field="attributes")
        attrs.update(loaded)
    if profile.number is None:
        if not title:
            raise ValidationError("a title is needed (the id is made from it)", field="title")
        return slug(title), title, parent_key, attrs or None
    try:
        n = int(number)
    except ValueError:
        raise ValidationError(f"{profile.number} must be a number", field="number") from None
    if not 0 <= n < 1000:
        raise ValidationError(f"{profile.number} must be from 0 to 999", field="number")
    if parent_key is not None:
        base = parent_key[1]
    elif title:
        base = slug(title)
    else:
        raise ValidationError("a title or a parent is needed", field="title")
    ident = f"{base}/{profile.prefix}{n:0{profile.digits}}"
    if profile.title_format is not None:
        shown = profile.title_format.format(title=title, n=n).strip()
    else:
        shown = title or ident
    attrs[profile.number] = n
    if title:
        attrs.setdefault("name", title)
    return ident, shown, parent_key, attrs


class CreateScreen(Screen[Entity | None]):
    """``Enter`` creates the entity and goes back; ``Esc`` goes back without creating."""

    BINDINGS = [Binding("escape", "back", "Back")]  # noqa: RUF012
    DEFAULT_CSS = """
    CreateScreen #form { padding: 1 2; height: auto; }
    CreateScreen Horizontal { height: 1; margin-bottom: 1; }
    CreateScreen Label { width: 12; }
    CreateScreen Input, CreateScreen Select { width: 1fr; }
    """

    def __init__(
        self,
        *,
        kinds: list[str],
        kind: str | None = None,
        parent: tuple[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.kinds = sorted(set(kinds) | ({kind} if kind else set()))
        self.kind = kind or (self.kinds[0] if self.kinds else None)
        self.parent_key = parent

    @property
    def chrono(self) -> ChronologApp:
        return cast("ChronologApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="form"):
            with Horizontal():
                yield Label("Kind")
                yield Select(
                    [(k, k) for k in self.kinds],
                    value=self.kind if self.kind else Select.NULL,
                    allow_blank=not self.kinds,
                    id="kind",
                    compact=True,
                )
                yield Input(placeholder="kind (a new one)", id="new-kind", compact=True)
            with Horizontal():
                yield Label("Title")
                yield Input(placeholder="e.g. Heat, Dark", id="title", compact=True)
            with Horizontal(id="number-row"):
                yield Label("Number", id="number-label")
                yield Input(placeholder="e.g. 1", id="number", type="integer", compact=True)
            with Horizontal():
                yield Label("Parent")
                yield Input(
                    value=""
                    if self.parent_key is None
                    else f"{self.parent_key[0]}/{self.parent_key[1]}",
                    placeholder="kind/id, e.g. season/dark/s01",
                    id="parent",
                    compact=True,
                )
            with Horizontal():
                yield Label("Attributes")
                yield Input(
                    placeholder='JSON object, e.g. {"year": 1995}', id="attributes", compact=True
                )
            yield Static(id="error", classes="error")
            yield Static("Enter: create   Tab: next field   Esc: back", classes="line")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = (
            "new entity" if self.parent_key is None else f"new child of {self.parent_key[1]}"
        )
        self.query_one("#new-kind", Input).display = not self.kinds
        self._number_field()
        first = "#number" if self.parent_key is not None and self._profile_number() else "#title"
        self.query_one(first, Input).focus()

    def _chosen_kind(self) -> str:
        if not self.kinds:
            return self.query_one("#new-kind", Input).value.strip()
        value = self.query_one("#kind", Select).value
        return value if isinstance(value, str) else ""

    def _profile_number(self) -> str | None:
        kind = self._chosen_kind() or self.kind
        return self.chrono.profile(kind).number if kind else None

    def _number_field(self) -> None:
        number = self._profile_number()
        self.query_one("#number-label", Label).update((number or "number").capitalize())
        self.query_one("#number-row").display = number is not None

    @on(Select.Changed, "#kind")
    def _kind_changed(self) -> None:
        self._number_field()

    @on(Input.Submitted)
    def submit(self) -> None:
        """Create the entity from the form; show what is wrong instead if it cannot."""
        kind = self._chosen_kind()
        error = self.query_one("#error", Static)
        try:
            if not kind:
                raise ValidationError("choose a kind", field="kind")
            ident, title, parent, attrs = entity_fields(
                self.chrono,
                kind,
                self.query_one("#title", Input).value,
                self.query_one("#number", Input).value,
                self.query_one("#parent", Input).value,
                self.query_one("#attributes", Input).value,
            )
            entity = self.chrono.source.create(
                kind, ident, title=title, parent=parent, attributes=attrs
            )
        except ChronologError as exc:
            error.update(exc.message)
            return
        self.notify(f"created {entity.kind}/{entity.id}")
        self.dismiss(entity)

    def action_back(self) -> None:
        self.dismiss(None)
