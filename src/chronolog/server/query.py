"""The query values as FastAPI query-parameter models, built from ``EventQuery`` and ``JobQuery``.

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

from ..query import EventQuery, JobQuery

__all__ = [
    "EventQueryDep",
    "EventQueryParams",
    "JobQueryDep",
    "JobQueryParams",
    "event_query",
    "job_query",
    "params_model",
]


def params_model(query: type[Any]) -> type[BaseModel]:
    """A pydantic model of a query value's fields as query parameters (lists
    comma-separated, times RFC 3339 with a zone, pairs ``kind/id``), each with its doc."""
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(query):
        doc, kind = f.metadata["doc"], f.metadata.get("kind")
        if kind == "time":
            fields[f.name] = (AwareDatetime | None, Field(default=None, description=doc))
        elif kind == "many":
            fields[f.name] = (
                str | None,
                Field(default=None, max_length=10_000, description=f"{doc} Comma-separated."),
            )
        else:
            fields[f.name] = (str | None, Field(default=None, max_length=320, description=doc))
    return create_model(f"{query.__name__}Params", __doc__=query.__doc__, **fields)


EventQueryParams = params_model(EventQuery)
"""The query parameters of an :class:`~chronolog.EventQuery`."""
JobQueryParams = params_model(JobQuery)
"""The query parameters of a :class:`~chronolog.JobQuery`."""


def event_query(params: Annotated[EventQueryParams, Query()]) -> EventQuery:  # type: ignore[valid-type]
    """The dependency: the request's event filters (a 422 when they are bad)."""
    return EventQuery.from_params(params.model_dump(exclude_none=True))  # type: ignore[attr-defined]


def job_query(params: Annotated[JobQueryParams, Query()]) -> JobQuery:  # type: ignore[valid-type]
    """The dependency: the request's job filters (a 422 when they are bad)."""
    return JobQuery.from_params(params.model_dump(exclude_none=True))  # type: ignore[attr-defined]


EventQueryDep = Annotated[EventQuery, Depends(event_query)]
"""A route parameter holding the request's :class:`~chronolog.EventQuery`."""
JobQueryDep = Annotated[JobQuery, Depends(job_query)]
"""A route parameter holding the request's :class:`~chronolog.JobQuery`."""
