"""JSON shapes shared by every routes module (request and response models)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

__all__ = [
    "ERROR_RESPONSES",
    "ErrorBody",
    "ErrorDetail",
    "Strict",
    "documented_body",
    "extra_components",
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
