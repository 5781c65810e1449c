"""``LiveScreen``: a screen that re-reads its data when the store changes, off the event loop.

A screen splits its refresh in two: :meth:`LiveScreen.read` asks the source
(it may be slow: a remote server, a busy database) and :meth:`LiveScreen.show`
draws. A refresh the user caused (opening the screen, a key) reads in place,
so what the key did is on screen when the key is handled. A refresh caused by
someone else's change (:class:`~chronolog.tui.messages.StoreChanged`) reads in a
worker thread and only draws on the event loop, so keys typed meanwhile are
never held up behind the requests. Each refresh takes a generation number;
a result older than the newest refresh asked for is dropped, so a slow
background read never paints over what a key just showed.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from textual import on
from textual.message import Message
from textual.screen import Screen

from ..errors import ChronologError
from .messages import StoreChanged

if TYPE_CHECKING:
    from .app import ChronologApp

__all__ = ["LiveScreen"]

D = TypeVar("D")


class _Loaded(Message, Generic[D], bubble=False):
    """A background read finished (``data``) or was refused (``error``)."""

    def __init__(self, generation: int, data: D | None, error: ChronologError | None) -> None:
        super().__init__()
        self.generation = generation
        self.data = data
        self.error = error


class LiveScreen(Screen[None], Generic[D]):
    """A screen drawn from one read of the source (type ``D``), refreshed on store changes."""

    _generation = 0

    @property
    def chrono(self) -> ChronologApp:
        return cast("ChronologApp", self.app)

    # read() and show() are what each screen supplies. They raise rather than
    # being abc.abstractmethods because Textual's widget metaclass does not mix
    # with ABCMeta; every concrete screen overrides both (the pilot tests open each).
    def read(self) -> D:
        """Read what the screen shows (called on the event loop or in a worker thread:
        read the screen's attributes, never its widgets)."""
        raise NotImplementedError

    def show(self, data: D) -> None:
        """Draw what :meth:`read` returned (on the event loop)."""
        raise NotImplementedError

    def failed(self, exc: ChronologError) -> None:
        """A read was refused: by default a notification, the screen stays as it was."""
        self.chrono.report(exc)

    def reload(self) -> None:
        """Read again and draw, now (for what the user just did)."""
        self._generation += 1
        try:
            data = self.read()
        except ChronologError as exc:
            self.failed(exc)
            return
        self.show(data)

    @on(StoreChanged)
    def _store_changed(self) -> None:
        self._generation += 1
        self.run_worker(
            partial(self._read_aside, self._generation),
            thread=True,
            group="live-reload",
            exclusive=True,
            exit_on_error=False,
        )

    def _read_aside(self, generation: int) -> None:
        try:
            data = self.read()
        except ChronologError as exc:
            self.post_message(_Loaded[D](generation, None, exc))
            return
        self.post_message(_Loaded[D](generation, data, None))

    @on(_Loaded)
    def _loaded(self, message: _Loaded[D]) -> None:
        if message.generation != self._generation:
            return  # a newer refresh was asked for: its result is the one to show
        if message.error is not None:
            self.failed(message.error)
        else:
            self.show(cast("D", message.data))
