"""Query values as FastAPI query-parameter models, built from ``EventQuery``, ``JobQuery``
and ``EntityQuery``.

A route that filters declares its other query parameters (``limit``, ``cursor`` …)
as a small :class:`QueryParams` model and takes ``query_dep(EventQuery,
ThatModel)``: one pydantic model of the query value's fields laid over it, read as
query parameters (as advanced-alchemy's ``provide_filters`` hands routes their
filter objects). The route gets ``(query value, the rest)``. The query fields come
from the dataclass and their docs, so the filter set is written once
(``chronolog/query.py``) and OpenAPI still lists every parameter with its
description.

Every such model forbids extra fields: an unknown query parameter (a typo such as
``?state=failed`` for ``states``) is a 422 naming it, before anything is read or
changed, where it would otherwise be ignored and widen the filter. FastAPI hands
a query-parameter model every parameter the request has, which is why a route's
other parameters live in the same model.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model

__all__ = [
    "PageLimit",
    "PageParams",
    "QueryParams",
    "params_model",
    "query_dep",
]

Q = TypeVar("Q")
P = TypeVar("P", bound="QueryParams")


class QueryParams(BaseModel):
    """Base of a route's query parameters: an unknown parameter is refused (422)."""

    model_config = ConfigDict(extra="forbid")


class PageLimit(QueryParams):
    """``limit`` and ``cursor``: keyset paging (continue with ``next_cursor``)."""

    limit: int = Field(default=50, ge=1, le=10_000, description="Items per page.")
    cursor: str | None = Field(
        default=None, max_length=512, description="The `next_cursor` of the previous page."
    )


class PageParams(PageLimit):
    """``page`` + ``limit`` (offset paging) or ``cursor`` (keyset paging)."""

    page: int = Field(default=1, ge=1, le=1_000_000, description="1-based page number.")


def params_model(query: type[Any], base: type[QueryParams] = QueryParams) -> type[QueryParams]:
    """A pydantic model of a query value's fields as query parameters (lists
    comma-separated, times RFC 3339 with a zone, pairs ``kind/id``, flags true/false),
    each with its doc, over ``base`` (the route's other parameters)."""
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(query):
        doc, kind = f.metadata["doc"], f.metadata.get("kind")
        if kind == "time":
            fields[f.name] = (AwareDatetime | None, Field(default=None, description=doc))
        elif kind == "flag":
            fields[f.name] = (bool | None, Field(default=None, description=doc))
        elif kind == "many":
            fields[f.name] = (
                str | None,
                Field(default=None, max_length=10_000, description=f"{doc} Comma-separated."),
            )
        else:
            fields[f.name] = (str | None, Field(default=None, max_length=320, description=doc))
    name = query.__name__ + ("Params" if base is QueryParams else base.__name__)
    model: type[QueryParams] = create_model(name, __base__=base, __doc__=query.__doc__, **fields)
    return model


def query_dep(query: type[Q], base: type[P]) -> Any:
    """``Depends(…)`` of a route's query parameters: ``(the query value, the rest)``.

    The query value is built by its own ``from_params`` (a bad filter is a 422
    from its ``ValidationError``); ``the rest`` is the request's ``base`` model.
    """
    model = params_model(query, base)
    names = frozenset(f.name for f in dataclasses.fields(query))  # type: ignore[arg-type]
    build = query.from_params  # type: ignore[attr-defined]

    def dependency(params: Any) -> tuple[Q, P]:
        value = build(params.model_dump(include=names, exclude_none=True))
        return value, params

    # The model is made at run time, so the signature FastAPI reads is set here.
    dependency.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                "params",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=Annotated[model, Query()],
            )
        ],
        return_annotation=tuple,
    )
    dependency.__name__ = f"{query.__name__.lower()}_params"
    return Depends(dependency)
