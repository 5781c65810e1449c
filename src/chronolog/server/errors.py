"""One error shape for every failure: ``{"error": {"code", "message", "details"}}``.

chronolog's exceptions map to HTTP statuses here and nowhere else; FastAPI's
own 422 (request validation), 404 and 405 are rewritten into the same shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import (
    ChronologError,
    Conflict,
    Forbidden,
    NotConfigured,
    NotFound,
    StoreUnavailable,
    TooLarge,
    TooManyRequests,
    Unauthorized,
    ValidationError,
)

__all__ = ["error_response", "install_error_handlers", "status_for"]

log = logging.getLogger("chronolog.server")

# Most specific first: TooLarge is a ValidationError, LeaseLost a Conflict.
_STATUS: tuple[tuple[type[ChronologError], int], ...] = (
    (TooLarge, 413),
    (ValidationError, 422),
    (NotFound, 404),
    (Conflict, 409),
    (Unauthorized, 401),
    (Forbidden, 403),
    (TooManyRequests, 429),
    (StoreUnavailable, 503),
    (NotConfigured, 503),
)
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


def status_for(exc: ChronologError) -> int:
    """The HTTP status of a chronolog error (500 for one no client input explains)."""
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    """A response in the one error shape."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 429:
        headers = {"Retry-After": "5"}
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": _jsonable(details or {})}},
        status_code=status,
        headers=headers,
    )


async def _chronolog_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ChronologError)
    status = status_for(exc)
    if status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc.message)
        public = _PUBLIC_MESSAGES.get(type(exc))
        if public is not None or status == 500:
            # A driver's words (SQL, a host and port, a file path) are for the server's
            # log, not for whoever sent the request.
            return error_response(status, exc.code, public or _INTERNAL)
    return error_response(status, exc.code, exc.message, exc.details)


_INTERNAL = "internal error: the server's log has the details"
_PUBLIC_MESSAGES: dict[type[ChronologError], str] = {
    StoreUnavailable: "the database is unavailable or busy; retry later "
    "(the server's log has the details)",
}


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [str(part) for part in e.get("loc", ())],
            "msg": e.get("msg"),
            "type": e.get("type"),
        }
        for e in exc.errors()
    ]
    invalid = [e for e in errors if e["type"] == "json_invalid"]
    if invalid:
        return error_response(
            400, "invalid_json", f"the request body is not valid JSON: {invalid[0]['msg']}"
        )
    unknown = [
        e["loc"][1]
        for e in errors
        if e["type"] == "extra_forbidden" and len(e["loc"]) == 2 and e["loc"][0] == "query"
    ]
    if unknown:
        # A query model forbids extras (server/query.py): say which, and what it takes.
        known = _query_names(request)
        takes = f"; this route takes {', '.join(known)}" if known else ""
        names = ", ".join(repr(n) for n in unknown)
        return error_response(
            422,
            "validation_error",
            f"unknown query parameter{'s' if len(unknown) > 1 else ''} {names}{takes}",
            {"field": unknown[0], "unknown": unknown, "known": known, "errors": errors},
        )
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(first["loc"])
    return error_response(
        422,
        "validation_error",
        f"{where}: {first['msg']}" if where else str(first["msg"]),
        {"errors": errors},
    )


def _query_names(request: Request) -> list[str]:
    """The query parameters the request's route declares (its models' fields included)."""
    names: set[str] = set()
    stack = [getattr(request.scope.get("route"), "dependant", None)]
    while stack:
        dependant = stack.pop()
        if dependant is None:
            continue
        for field in dependant.query_params:
            model = field.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                names.update(f.alias or n for n, f in model.model_fields.items())
            else:
                names.add(field.alias)
        stack.extend(dependant.dependencies)
    return sorted(names)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    response = error_response(exc.status_code, code, message)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error in %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through the one shape."""
    app.add_exception_handler(ChronologError, _chronolog_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
