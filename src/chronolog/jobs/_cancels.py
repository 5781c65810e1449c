"""How a worker learns at once that a job it runs was cancelled: :meth:`CancelReading.cancelled`.

A cancel of a running job publishes the ``jobs_cancel`` topic after commit
(and, on PostgreSQL, sends ``NOTIFY chronolog_jobs_cancel`` in its
transaction, which every process's listener republishes). A worker's cancel
watch (:mod:`._cancel_watch`) calls :meth:`~CancelReading.cancelled` with the
ids it runs: it answers at once when one of them is cancelled already, else
waits for the topic to move and looks again. SQLite has no signal between
processes, so there the wait is cut to the store's poll interval: a cancel
from another process reaches the handler within that.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ..errors import ValidationError
from ..store.sql import job_cancels as sql
from ._checks import check_id
from .reading import JobReading

__all__ = ["CANCEL_POLL", "CancelReading"]

CANCEL_POLL = 0.25
"""Seconds between looks on SQLite, where cancels of other processes send no signal."""
_MAX_IDS = 10_000


class CancelReading(JobReading):
    """The cancel watch's verb of :class:`~chronolog.jobs.Jobs`."""

    _cancel_listening = False

    def cancelled(self, job_ids: Sequence[int], *, wait: float = 0.0) -> list[int]:
        """Which of ``job_ids`` are cancelled. With ``wait``, when none is yet, wait up
        to ``wait`` seconds for a cancel (any, in this store) and look again; returns
        early whenever a cancel happened, so the caller can look with its current ids.
        On SQLite a wait lasts at most :data:`CANCEL_POLL` seconds."""
        if isinstance(job_ids, str | bytes) or len(job_ids) > _MAX_IDS:
            raise ValidationError(f"job_ids must be a list of at most {_MAX_IDS:,} ids")
        ids = list(job_ids)
        for job_id in ids:
            check_id(job_id)
        if wait < 0 or wait != wait:  # also NaN
            raise ValidationError("wait must be a number of seconds, at least 0", field="wait")
        scope = self._scope
        store = scope.store
        if wait > 0 and not self._cancel_listening:
            store.listen(sql.CANCEL_TOPIC)
            self._cancel_listening = True
        # Read the generation before looking: a cancel committed after the look
        # moves it, so the wait below cannot miss it.
        seen = store.notifier.generation(sql.CANCEL_TOPIC)
        found = self._cancelled_now(ids)
        if found or wait <= 0 or not ids:
            return found
        if store.is_sqlite:
            wait = min(wait, CANCEL_POLL)
        deadline = time.monotonic() + wait
        store.wait(sql.CANCEL_TOPIC, seen, max(0.0, deadline - time.monotonic()))
        return self._cancelled_now(ids)

    def wake_cancel_watch(self) -> None:
        """Wake every wait of :meth:`cancelled` in this process (a worker stopping)."""
        self._scope.store.notifier.publish(sql.CANCEL_TOPIC)

    def _cancelled_now(self, ids: list[int]) -> list[int]:
        if not ids:
            return []
        scope = self._scope
        with scope.store.read_single() as conn:
            return sql.job_cancelled_among(conn, scope.project_id, ids)
