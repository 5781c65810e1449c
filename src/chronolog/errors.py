"""chronolog's exceptions: every failure a caller can see is one of these.

Driver exceptions never escape the store layer; they are translated into the
classes below by the dialect seam (:mod:`chronolog.store.dialect`).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ChronologError",
    "Conflict",
    "Forbidden",
    "InvalidTransition",
    "LeaseLost",
    "NotConfigured",
    "NotFound",
    "StoreUnavailable",
    "TooLarge",
    "TooManyRequests",
    "Unauthorized",
    "ValidationError",
]


class ChronologError(Exception):
    """Base class of every error chronolog raises.

    ``code`` is a short machine-readable word (the HTTP service puts it in its
    error body); ``details`` holds structured context for the caller.
    """

    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details


class NotFound(ChronologError):
    """The named row (event, entity, job, project, …) does not exist in this project."""

    code = "not_found"


class ValidationError(ChronologError, ValueError):
    """The caller's input is invalid; nothing was written."""

    code = "validation_error"


class Conflict(ChronologError):
    """The write lost a race or broke a uniqueness rule; nothing was written."""

    code = "conflict"


class InvalidTransition(ValidationError):
    """A state machine forbids the requested move; nothing was written."""

    code = "invalid_transition"


class LeaseLost(Conflict):
    """A job's lease token is stale: another claim owns the job now, or it ended.

    The current lease is :attr:`current_lease`, not in the message or ``details``: a
    stale worker must stop, and is not handed the number to carry on with. The lease
    is a fencing token, not a secret (a job's readers see it); the write role is
    what is trusted with a project's jobs."""

    code = "lease_lost"
    current_lease: int | None = None


class StoreUnavailable(ChronologError):
    """The database could not be reached or stayed locked past the busy timeout."""

    code = "store_unavailable"


class TooLarge(ValidationError):
    """The input is over a configured size limit (body, batch, page, metadata)."""

    code = "too_large"


class TooManyRequests(ChronologError):
    """A cap on concurrent use was reached (open streams and long-polls per token);
    nothing was done: retry later, or close something first."""

    code = "too_many_requests"


class Unauthorized(ChronologError):
    """No credentials, or credentials that are unknown, expired or revoked."""

    code = "unauthorized"


class Forbidden(ChronologError):
    """Valid credentials whose role does not allow the operation."""

    code = "forbidden"


class NotConfigured(ChronologError):
    """A feature needs configuration that is missing (e.g. the secrets key)."""

    code = "not_configured"
