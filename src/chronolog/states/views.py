"""The named entity lists (``in_state``, ``active``, ``entities``) as one-liners over
``list(EntityQuery)``, shared by ``cl.states`` and its remote twin.

Both the library's :class:`~chronolog.states.States` and the client's
``RemoteStates`` inherit them, so each list is written once, as an
:class:`~chronolog.EntityQuery`, and the two cannot drift. No store import: the
client uses this module as it is.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import ValidationError
from ..models import Page
from ..query import EntityQuery
from .models import Entity

__all__ = ["EntityViews"]


class EntityViews:
    """``in_state``, ``active`` and ``entities``: ``list`` with a query made for each.

    ``list(query, *, limit, cursor, **filters)`` is each side's own: the library
    reads the store, the client sends the query as ``GET /entities``.
    """

    list: Callable[..., Page[Entity]]

    def in_state(
        self,
        kind: str,
        states: Iterable[str] | str,
        *,
        limit: int = 50,
        cursor: str | None = None,
        **filters: Any,
    ) -> Page[Entity]:
        """Entities of ``kind`` now in one of ``states``, newest move first, with their
        current transition (its metadata: e.g. the download client). Paged by cursor.

        ``filters`` are the other fields of an :class:`~chronolog.EntityQuery`:
        ``parent=(kind, id)`` keeps the children of one entity, ``since`` /
        ``until`` the entities that entered their state in that window.
        """
        if "kinds" in filters or "states" in filters:
            raise ValidationError("in_state takes its kind and states as arguments", field="kinds")
        if isinstance(states, str):
            states = (states,)
        query = EntityQuery.build(
            None, {"kinds": (kind,), "states": builtins.list(states), **filters}
        )
        return self.list(query, limit=limit, cursor=cursor)

    def entities(
        self, kind: str | None = None, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Entity]:
        """Every entity (of ``kind``, if given), newest move first, paged by cursor."""
        kinds = None if kind is None else (kind,)
        return self.list(EntityQuery(kinds=kinds), limit=limit, cursor=cursor)

    def active(
        self, kind: str | None = None, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Entity]:
        """Entities not in a terminal state of their kind's machine, newest move first.

        Kinds without a machine have no terminal states: all their entities are active.
        """
        kinds = None if kind is None else (kind,)
        return self.list(EntityQuery(kinds=kinds, active=True), limit=limit, cursor=cursor)
