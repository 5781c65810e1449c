"""JSON shapes shared by every routes module (request and response models)."""

from __future__ import annotations

import dataclasses
import functools
import operator
import types
import typing
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.json_schema import models_json_schema

__all__ = [
    "ERROR_RESPONSES",
    "ErrorBody",
    "ErrorDetail",
    "Strict",
    "documented_body",
    "extra_components",
    "json_model",
]

_DOCUMENTED: list[type[BaseModel]] = []


class Strict(BaseModel):
    """Base of request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    """What went wrong: a machine-readable ``code``, a message for people, and context."""

    code: str = Field(examples=["validation_error"])
    message: str
    details: dict[str, Any]


class ErrorBody(BaseModel):
    """The one error shape of every route."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "Malformed request (invalid JSON, unusable text)."),
        (401, "Missing, unknown, expired or revoked token."),
        (403, "The token's role does not allow this."),
        (404, "Not found in this project."),
        (409, "Conflict (a lost race, a stale lease)."),
        (413, "Over a size limit (body, batch)."),
        (422, "Invalid input; nothing was changed."),
        (429, "Too many open streams or long-polls for this token."),
        (503, "The database is unavailable, or a feature is not configured."),
    )
}
"""Declared on every router so the OpenAPI document describes each error response."""


def documented_body(*models: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route that parses its body itself (see ``deps.JsonBody``).

    Hot routes skip pydantic and let the library validate; this keeps their
    body described in ``/openapi.json`` as one of ``models``.
    """
    _DOCUMENTED.extend(m for m in models if m not in _DOCUMENTED)
    refs = [{"$ref": f"#/components/schemas/{m.__name__}"} for m in models]
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": refs[0] if len(refs) == 1 else {"anyOf": refs}}
            },
        }
    }


def extra_components() -> dict[str, Any]:
    """JSON schemas of every model named by :func:`documented_body` (and what they use)."""
    if not _DOCUMENTED:
        return {}
    _, top = models_json_schema(
        [(m, "validation") for m in _DOCUMENTED], ref_template="#/components/schemas/{model}"
    )
    defs: dict[str, Any] = top.get("$defs", {})
    return defs


# -- response models made from the value types -------------------------------------------

_MODELS: dict[type, type[BaseModel]] = {}


def json_model(
    cls: type, *, extra: Mapping[str, Any] | None = None, name: str | None = None
) -> type[BaseModel]:
    """The response model of a value type's JSON form (its ``to_dict``), made from the
    dataclass's fields, so the shape is written once, beside the dataclass.

    A field's JSON type follows its Python type: tuples and frozensets are lists, a
    nested dataclass is its own model (``<Name>Out``), times are RFC 3339 strings. A
    field whose JSON differs from its type says so in its metadata (``{"json": T}``:
    ``Schedule.every`` is seconds, ``JobMove.actor`` an ``Actor``); properties that
    ``to_dict`` adds are named by the class's ``json_properties`` (their return
    types). ``extra`` adds what a route puts beside the value (``{name: type}``).
    ``tests/test_http_schema.py`` checks every model's keys against ``to_dict``.
    """
    if extra is None and name is None and cls in _MODELS:
        return _MODELS[cls]
    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        json_type = f.metadata.get("json", hints[f.name])
        fields[f.name] = (_json_type(json_type), Field(description=f.metadata.get("doc")))
    for prop in getattr(cls, "json_properties", ()):
        returns = typing.get_type_hints(getattr(cls, prop).fget)["return"]
        fields[prop] = (_json_type(returns), ...)
    for key, value in (extra or {}).items():
        fields[key] = (value, ...)
    doc = (cls.__doc__ or "").strip().split("\n\n")[0]
    model: type[BaseModel] = create_model(name or f"{cls.__name__}Out", __doc__=doc, **fields)
    if extra is None and name is None:
        _MODELS[cls] = model
    return model


def _json_type(tp: Any) -> Any:
    """The type of ``tp``'s JSON form, for pydantic."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return functools.reduce(operator.or_, [_json_type(a) for a in get_args(tp)])
    if origin in (tuple, frozenset, list, set):
        args = [a for a in get_args(tp) if a is not Ellipsis]
        item = functools.reduce(operator.or_, [_json_type(a) for a in args]) if args else Any
        return list[item]  # type: ignore[valid-type]
    if origin in (dict, Mapping):
        key, value = get_args(tp)
        return dict[key, _json_type(value)]  # type: ignore[misc,valid-type]
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return json_model(tp)
    if tp in (datetime, date, str, int, float, bool, type(None)) or tp is Any:
        return tp
    raise TypeError(f"no JSON form for {tp!r}: give the field a {{'json': type}} metadata")
