"""Jobs: a queue that never loses or double-completes work, its workers and its logs.

``cl.jobs`` is a :class:`Jobs`. Workers (:class:`Worker`) run Python handlers
by job kind; :func:`command_handler` runs an external command per job (the
``chronolog exec`` dispatcher).
"""

from ._context import PermanentError
from .models import Job, JobError, JobLink, JobLinks, JobLog, JobMove, NewJob, Pipeline
from .queue import DEFAULT_LEASE, Jobs, backoff
from .queues import QueueInfo
from .workers import WorkerInfo

__all__ = [
    "DEFAULT_LEASE",
    "Job",
    "JobError",
    "JobLink",
    "JobLinks",
    "JobLog",
    "JobMove",
    "Jobs",
    "NewJob",
    "PermanentError",
    "Pipeline",
    "QueueInfo",
    "WorkerInfo",
    "backoff",
]
