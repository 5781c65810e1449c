"""Input checks of the job queue: everything a caller hands in is checked here, before
any transaction opens, and turned into the rows the store takes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from .. import _json
from .._scope import Limits, Scope
from .._time import parse_duration, require_aware, to_micros
from .._validate import ACTOR_LIMITS, party
from ..errors import ValidationError
from ..models import Actor
from ..store.sql.jobs import Completion, NewJobRow
from .models import DEFAULT_MAX_ATTEMPTS, NewJob

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "LOG_LEVELS",
    "MAX_AFTER",
    "Prepared",
    "check_actor",
    "check_after",
    "check_id",
    "check_int",
    "check_kinds",
    "check_log_lines",
    "check_queues",
    "check_text",
    "check_word",
    "completions",
    "cut_log_line",
    "prepare_job",
    "seconds",
    "subject_key",
]

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_WORD = 64


def check_word(value: Any, name: str) -> str:
    """A name (kind, queue): non-empty text of at most 64 characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > _WORD or "\x00" in value:
        raise ValidationError(
            f"{name} must be non-empty text of at most {_WORD} characters", field=name
        )
    return value


def check_int(value: Any, name: str, low: int, high: int) -> int:
    """An integer (not a bool) from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(f"{name} must be an integer from {low} to {high}", field=name)
    return value


def check_id(job_id: Any) -> None:
    """A job id: a positive integer."""
    if isinstance(job_id, bool) or not isinstance(job_id, int) or job_id < 1:
        raise ValidationError("a job id is a positive integer", field="id")


def check_text(value: Any, name: str, limit: int) -> str:
    """Free text (an error, a reason): non-empty, no NUL, cut to ``limit`` characters."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{name} must be non-empty text", field=name)
    if "\x00" in value:
        raise ValidationError(f"{name} must not contain NUL characters", field=name)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def seconds(value: timedelta | float | int, name: str) -> float:
    """A duration in seconds (a ``timedelta`` or a number)."""
    return parse_duration(value, name).total_seconds()


def check_actor(actor: Actor | None, limits: Limits) -> tuple[str | None, str | None, str | None]:
    """Who asked for a change: an :class:`Actor` (checked like an event's) or None."""
    if actor is None:
        return (None, None, None)
    if not isinstance(actor, Actor):
        raise ValidationError("actor must be an Actor", field="actor")
    return party(actor, "actor", Actor, ACTOR_LIMITS, limits.text_chars)


def check_queues(queues: Sequence[str] | str | None) -> tuple[str, ...] | None:
    """Queue names to claim from (None: every queue)."""
    if queues is None:
        return None
    names = (queues,) if isinstance(queues, str) else tuple(queues)
    if not names:
        raise ValidationError("queues must name at least one queue (or be None)")
    for name in names:
        check_word(name, "queue")
    return names


def check_kinds(kinds: Sequence[str] | str) -> tuple[str, ...]:
    """Job kinds a claim takes (a worker's handlers): at least one."""
    names = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    if not names:
        raise ValidationError("kinds must name at least one kind (or be None)", field="kinds")
    for name in names:
        check_word(name, "kind")
    return names


def subject_key(subject: Any) -> tuple[str, str] | None:
    """Validate a subject given as (kind, id); ids may be integers."""
    if subject is None:
        return None
    if not isinstance(subject, tuple | list) or len(subject) != 2:
        raise ValidationError("subject must be a (kind, id) pair", field="subject")
    kind, ident = subject
    if not isinstance(kind, str) or not kind.strip() or len(kind) > 64:
        raise ValidationError("subject kind must be non-empty text of at most 64 characters")
    if isinstance(ident, bool) or not isinstance(ident, str | int):
        raise ValidationError("subject id must be text or an integer", field="subject")
    ident = str(ident)
    if not ident or len(ident) > 255:
        raise ValidationError("subject id must be 1 to 255 characters", field="subject")
    return kind, ident


class Prepared(NamedTuple):
    """A checked job, ready to insert once its subject's row key is known."""

    row: NewJobRow
    subject: tuple[str, str] | None
    unique_key: str | None
    after: tuple[int | str, ...] = ()
    on_failure: str = "cancel"
    ref: str | None = None


_NEW_JOB_FIELDS = frozenset(NewJob.__slots__)


def _word_fast(value: Any, name: str) -> str:
    # The common case in a few C-level tests; anything else gets check_word's message.
    if (
        type(value) is str
        and 0 < len(value) <= _WORD
        and "\x00" not in value
        and not value.isspace()
    ):
        return value
    return check_word(value, name)


def prepare_job(scope: Scope, item: NewJob | Mapping[str, Any], now: int) -> Prepared:
    """Check one job to enqueue (a :class:`NewJob` or a mapping of its fields)."""
    if isinstance(item, Mapping):
        if not item.keys() <= _NEW_JOB_FIELDS:
            unknown = set(item) - _NEW_JOB_FIELDS
            raise ValidationError(f"unknown job fields: {sorted(unknown)}")
        if "kind" not in item:
            raise ValidationError("a job needs a kind", field="kind")
        get = item.get
        kind, payload_in, queue = item["kind"], get("payload"), get("queue", "default")
        priority, run_at_in, delay = get("priority", 0), get("run_at"), get("delay")
        max_attempts, unique_key, subject = get("max_attempts"), get("unique_key"), get("subject")
        after, on_failure, ref = get("after") or (), get("on_failure") or "cancel", get("ref")
    elif isinstance(item, NewJob):
        kind, payload_in, queue = item.kind, item.payload, item.queue
        priority, run_at_in, delay = item.priority, item.run_at, item.delay
        max_attempts, unique_key, subject = item.max_attempts, item.unique_key, item.subject
        after, on_failure, ref = item.after, item.on_failure, item.ref
    else:
        raise ValidationError(f"a job must be a NewJob or a mapping, got {type(item).__name__}")
    kind = _word_fast(kind, "kind")
    queue = _word_fast(queue, "queue")
    if type(priority) is not int or not -1_000_000 <= priority <= 1_000_000:
        priority = check_int(priority, "priority", -1_000_000, 1_000_000)
    if max_attempts is None:
        max_attempts = DEFAULT_MAX_ATTEMPTS
    elif type(max_attempts) is not int or not 1 <= max_attempts <= 1000:
        max_attempts = check_int(max_attempts, "max_attempts", 1, 1000)
    run_at = now
    if run_at_in is not None:
        if delay is not None:
            raise ValidationError("give run_at or delay, not both", field="run_at")
        run_at = to_micros(require_aware(run_at_in, "run_at"))
    elif delay is not None:
        run_at = now + int(seconds(delay, "delay") * 1_000_000)
    _, payload = _json.check_object(payload_in, name="payload", limit=scope.limits.metadata_bytes)
    if unique_key is not None and (
        not isinstance(unique_key, str) or not unique_key or len(unique_key) > 255
    ):
        raise ValidationError("unique_key must be 1 to 255 characters of text", field="unique_key")
    row = NewJobRow(
        scope.project_id,
        queue,
        kind,
        payload,
        "pending",
        priority,
        run_at,
        0,
        max_attempts,
        unique_key,
        None,  # subject_pk: resolved inside the transaction
        0,
        1,
        now,
        now,
    )
    subject_checked = None if subject is None else subject_key(subject)
    if not after and on_failure == "cancel" and ref is None:
        return Prepared(row, subject_checked, unique_key)
    return Prepared(
        row, subject_checked, unique_key, *check_after(after, on_failure, ref, unique_key)
    )


MAX_AFTER = 1000
"""The most jobs one job may run after."""


def check_after(
    after: Any, on_failure: Any, ref: Any, unique_key: str | None
) -> tuple[tuple[int | str, ...], str, str | None]:
    """Check a job's dependencies: ``after`` (job ids, or refs of the same batch),
    ``on_failure`` (``cancel`` or ``run``) and its own ``ref``."""
    if on_failure not in ("cancel", "run"):
        raise ValidationError(
            f"on_failure must be 'cancel' or 'run', got {on_failure!r}", field="on_failure"
        )
    if ref is not None and (not isinstance(ref, str) or not ref or len(ref) > 64):
        raise ValidationError("ref must be 1 to 64 characters of text", field="ref")
    if isinstance(after, str | int) and not isinstance(after, bool):
        after = (after,)
    if not isinstance(after, Sequence | set | frozenset) or isinstance(after, bytes):
        raise ValidationError("after must be a list of job ids", field="after")
    items: list[int | str] = []
    for value in after:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValidationError(
                f"after holds job ids (or refs of the same batch), got {value!r}", field="after"
            )
        if isinstance(value, int) and not 0 < value < 2**63:
            raise ValidationError(f"after: {value} is not a job id", field="after")
        if isinstance(value, str) and (not value or len(value) > 64):
            raise ValidationError("after: a ref is 1 to 64 characters of text", field="after")
        if value not in items:
            items.append(value)
    if len(items) > MAX_AFTER:
        raise ValidationError(f"a job runs after at most {MAX_AFTER} jobs", field="after")
    if items and unique_key is not None:
        # A waiting job does not hold a unique key (the key's index covers pending and
        # running jobs): two waiting holders would collide when released.
        raise ValidationError("a job with after cannot have a unique_key", field="unique_key")
    return tuple(items), on_failure, ref


def completions(
    items: Sequence[tuple[int, int] | tuple[int, int, Mapping[str, Any] | None]], limits: Limits
) -> list[Completion]:
    """Check finished jobs to complete: (id, lease[, result]) → :class:`Completion`."""
    checked: list[Completion] = []
    for item in items:
        job_id, lease = item[0], item[1]
        check_id(job_id)
        if type(lease) is not int or lease < 0:
            check_int(lease, "lease", 0, 2**63 - 1)
        result = item[2] if len(item) > 2 else None
        text = None
        if result is not None:
            _, text = _json.check_object(result, name="result", limit=limits.metadata_bytes)
        checked.append(Completion(job_id, lease, text))
    return checked


def cut_log_line(message: str, cap: int) -> str:
    """A log message of at most ``cap`` characters: a longer one keeps its start and
    says how much was cut (a worker's output is never refused for one long line)."""
    if len(message) <= cap:
        return message
    return f"{message[:cap]} … [{len(message) - cap} more characters cut]"


def check_log_lines(
    scope: Scope,
    job_id: int,
    lines: Sequence[tuple[str, str, Mapping[str, Any] | None]]
    | Sequence[tuple[str, str, Mapping[str, Any] | None, datetime]],
    now: int,
) -> list[list[Any]]:
    """Check log lines ``(level, message, fields[, at])`` into rows (attempt filled in later)."""
    rows = []
    limits = scope.limits
    for line in lines:
        level, message, fields = line[0], line[1], line[2]
        if level not in LOG_LEVELS:
            raise ValidationError(
                f"level must be one of {list(LOG_LEVELS)}, got {level!r}", field="level"
            )
        if not isinstance(message, str):
            raise ValidationError("a log message must be text", field="message")
        message = cut_log_line(message, limits.log_line_chars)
        _, text = _json.check_object(fields, name="fields", limit=limits.metadata_bytes)
        at = to_micros(require_aware(line[3], "at")) if len(line) > 3 else now
        rows.append([scope.project_id, job_id, 0, at, level, message, text])
    return rows
