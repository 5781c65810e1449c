"""The event filters as one FastAPI query-parameter model, built from ``EventQuery``.

``EventQueryDep`` reads ``?event_types=…&since=…`` into a
:class:`~chronolog.EventQuery` for the events, feed and stats routes (as
advanced-alchemy's ``provide_filters`` hands routes its filter objects). The
pydantic model is made from the dataclass's fields and their docs, so the
filter set is written once (``chronolog/query.py``) and OpenAPI still lists
every parameter with its description.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import AwareDatetime, BaseModel, Field, create_model

from ..query import EventQuery

__all__ = ["EventQueryDep", "EventQueryParams", "event_query"]

_TIMES = ("since", "until")


def _model() -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(EventQuery):
        doc = f.metadata["doc"]
        if f.name in _TIMES:
            fields[f.name] = (AwareDatetime | None, Field(default=None, description=doc))
        elif f.metadata["many"]:
            fields[f.name] = (
                str | None,
                Field(default=None, max_length=10_000, description=f"{doc} Comma-separated."),
            )
        else:
            fields[f.name] = (str | None, Field(default=None, max_length=255, description=doc))
    return create_model("EventQueryParams", __doc__="The event filters.", **fields)


EventQueryParams = _model()
"""The query parameters of an :class:`~chronolog.EventQuery` (lists comma-separated)."""


def event_query(params: Annotated[EventQueryParams, Query()]) -> EventQuery:  # type: ignore[valid-type]
    """The dependency: the request's filters as an ``EventQuery`` (a 422 when they are bad)."""
    return EventQuery.from_params(params.model_dump(exclude_none=True))  # type: ignore[attr-defined]


EventQueryDep = Annotated[EventQuery, Depends(event_query)]
"""A route parameter holding the request's :class:`~chronolog.EventQuery`."""
