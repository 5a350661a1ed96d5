"""What the provider's status words mean. Templates and services ask here, nowhere else."""

from enum import StrEnum

from django.utils.translation import gettext_lazy as _


class Progress(StrEnum):
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self is not Progress.IN_PROGRESS

    @property
    def is_failed(self) -> bool:
        return self is Progress.FAILED


_SNAPSHOT_DONE = {"completed", "available", "ready"}
_SNAPSHOT_FAILED = {"failed", "error", "errored"}
_SERVER_BUSY = {"restoring", "creating", "provisioning", "rebuilding", "migrating"}
_SERVER_FAILED = {"error", "failed"}


def snapshot_progress(status: str) -> Progress:
    """Per the spec: unknown statuses count as still in progress (and are shown verbatim)."""
    status = status.lower()
    if status in _SNAPSHOT_DONE:
        return Progress.DONE
    if status in _SNAPSHOT_FAILED:
        return Progress.FAILED
    return Progress.IN_PROGRESS


def restore_progress(server_status: str | None) -> Progress:
    """A restore is over when the server leaves ``restoring``."""
    status = (server_status or "").lower()
    if status == "restoring":
        return Progress.IN_PROGRESS
    if status in _SERVER_FAILED:
        return Progress.FAILED
    return Progress.DONE


def server_is_busy(server_status: str | None) -> bool:
    return (server_status or "").lower() in _SERVER_BUSY


SNAPSHOT_STATUS_LABELS = {
    "in_progress": _("In progress"),
    "completed": _("Completed"),
    "failed": _("Failed"),
    # Operation states share the badge.
    "succeeded": _("Succeeded"),
    "stuck": _("Stuck"),
}
SERVER_STATUS_LABELS = {
    "running": _("Running"),
    "stopped": _("Stopped"),
    "restoring": _("Restoring"),
}


def badge_tone(status: str | None) -> str:
    """A CSS modifier for a status badge: ok, busy, off, bad or unknown."""
    status = (status or "").lower()
    if status in {"completed", "running", "succeeded"}:
        return "ok"
    if status in {"stopped"}:
        return "off"
    if status in _SNAPSHOT_FAILED | _SERVER_FAILED | {"failed", "stuck"}:
        return "bad"
    if status in {"in_progress", "restoring"} | _SERVER_BUSY:
        return "busy"
    return "unknown"
