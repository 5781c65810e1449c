"""Jobs: a queue that never loses or double-completes work, its workers and its logs.

``cl.jobs`` is a :class:`Jobs`. Workers (:class:`Worker`) run Python handlers
by job kind; :func:`command_handler` runs an external command per job (the
``chronolog exec`` dispatcher).
"""

from ._context import PermanentError
from .models import Job, JobError, JobLog, JobMove, NewJob
from .queue import DEFAULT_LEASE, Jobs, backoff
from .queues import QueueInfo
from .schedule_models import Schedule, ScheduleFire
from .schedules import Schedules
from .workers import WorkerInfo

__all__ = [
    "DEFAULT_LEASE",
    "Job",
    "JobError",
    "JobLog",
    "JobMove",
    "Jobs",
    "NewJob",
    "PermanentError",
    "QueueInfo",
    "Schedule",
    "ScheduleFire",
    "Schedules",
    "WorkerInfo",
    "backoff",
]
