"""Every meaning of a status, in one place.

- The provider's words: a snapshot's status and a server's state, mapped once to
  ``Progress`` (done / failed / in progress). Unknown words count as in progress and are
  shown verbatim, as the provider's page asks.
- Our own operations' states (``OperationState``), which the ``Operation`` model stores.
- What each status looks like: its label and the tone of its badge.

Templates, services and the poller ask here; none of them compares status words itself.
"""

from __future__ import annotations

from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _


class Progress(StrEnum):
    """Where the provider says a snapshot or a restore stands."""

    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"


_SNAPSHOT_DONE = {"completed", "available", "ready"}
_SNAPSHOT_FAILED = {"failed", "error", "errored"}
_SERVER_BUSY = {"restoring", "creating", "provisioning", "rebuilding", "migrating"}
_SERVER_FAILED = {"error", "failed"}
_SERVER_RUNNING = "running"
_SERVER_RESTORING = "restoring"


def snapshot_progress(status: str) -> Progress:
    """Per the provider's page: unknown statuses count as still in progress."""
    status = status.lower()
    if status in _SNAPSHOT_DONE:
        return Progress.DONE
    if status in _SNAPSHOT_FAILED:
        return Progress.FAILED
    return Progress.IN_PROGRESS


def snapshot_is_restorable(status: str) -> bool:
    """Only a completed snapshot can be restored."""
    return snapshot_progress(status) is Progress.DONE


def snapshot_is_running(status: str) -> bool:
    return snapshot_progress(status) is Progress.IN_PROGRESS


def restore_progress(server_status: str | None) -> Progress:
    """A restore is over when the server leaves ``restoring``."""
    status = (server_status or "").lower()
    if status == _SERVER_RESTORING:
        return Progress.IN_PROGRESS
    if status in _SERVER_FAILED:
        return Progress.FAILED
    return Progress.DONE


def server_is_running(server_status: str | None) -> bool:
    """Whether the server is up (a snapshot of it may then catch a file system mid-write)."""
    return (server_status or "").lower() == _SERVER_RUNNING


class OperationState(models.TextChoices):
    """Where one of our operations stands."""

    IN_PROGRESS = "in_progress", _("In progress")
    # Still followed, but well past the provider's stated maximum.
    STUCK = "stuck", _("Stuck")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")

    @property
    def is_terminal(self) -> bool:
        return self in (OperationState.SUCCEEDED, OperationState.FAILED)

    @property
    def is_failed(self) -> bool:
        return self is OperationState.FAILED


# The states in which an operation is still followed at the provider.
ACTIVE_STATES = (OperationState.IN_PROGRESS, OperationState.STUCK)


SNAPSHOT_STATUS_LABELS = {
    "in_progress": _("In progress"),
    "completed": _("Completed"),
    "failed": _("Failed"),
    # Operation states share the badge.
    OperationState.SUCCEEDED.value: OperationState.SUCCEEDED.label,
    OperationState.STUCK.value: OperationState.STUCK.label,
}
SERVER_STATUS_LABELS = {
    "running": _("Running"),
    "stopped": _("Stopped"),
    "restoring": _("Restoring"),
}


def badge_tone(status: str | None) -> str:
    """A CSS modifier for a status badge: ok, busy, off, bad or unknown."""
    status = (status or "").lower()
    if status in _SNAPSHOT_DONE | {_SERVER_RUNNING, OperationState.SUCCEEDED}:
        return "ok"
    if status == "stopped":
        return "off"
    if status in _SNAPSHOT_FAILED | _SERVER_FAILED | {OperationState.STUCK}:
        return "bad"
    if status in {OperationState.IN_PROGRESS} | _SERVER_BUSY:
        return "busy"
    return "unknown"
