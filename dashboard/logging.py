"""Log formatting for production collectors, and what counts as routine.

Beat queues ``dispatch_polls`` every ``VPS_POLL_SECONDS`` whether or not anything is in
progress, and each poll is a task too; Celery would log three INFO lines a second for them.
``RoutineTasksAtDebug`` lowers those lines to DEBUG, so that ``LOG_LEVEL=DEBUG`` still shows
them and INFO shows what a person acts on.
"""

import json
import logging
from datetime import UTC, datetime

from celery.app import trace

# The tasks that run on a timer, whatever happens (see ``snapshots_ui/tasks.py``).
ROUTINE_TASKS = frozenset(
    {
        "snapshots_ui.tasks.dispatch_polls",
        "snapshots_ui.tasks.poll_server",
        "snapshots_ui.tasks.poll_account",
        "snapshots_ui.tasks.notify_watch",
    }
)
# Celery's own messages for "beat sent it", "the worker received it", "it succeeded".
_BEAT_SENDING = "Scheduler: Sending due task %s (%s)"
_TASK_MESSAGES = frozenset({trace.LOG_RECEIVED, trace.LOG_SUCCESS})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _routine_task(record: logging.LogRecord) -> str | None:
    """The routine task an INFO record of Celery's is about, if it is one."""
    if record.msg == _BEAT_SENDING and isinstance(record.args, tuple) and len(record.args) == 2:
        task = record.args[1]
    elif record.msg in _TASK_MESSAGES and isinstance(record.args, dict):
        task = record.args.get("name")
    else:
        return None
    return task if task in ROUTINE_TASKS else None


class RoutineTasksAtDebug(logging.Filter):
    """For Celery's ``celery.beat``, ``celery.worker.strategy`` and ``celery.app.trace``
    loggers: "sending", "received" and "succeeded" of a routine task become DEBUG records,
    dropped unless the logger is enabled for DEBUG. Retries and failures keep their level."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or _routine_task(record) is None:
            return True
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
