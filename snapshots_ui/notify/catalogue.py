"""Every event type the dashboard raises, with its severity and a label for the forms."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from snapshots_ui.models import Severity

INFO, WARNING, ERROR = Severity.INFO, Severity.WARNING, Severity.ERROR

# type: (severity, label). Operations by kind; workflows of any kind (the kind is in the event).
EVENT_TYPES: dict[str, tuple[Severity, object]] = {
    "create.succeeded": (INFO, _("Snapshot taken")),
    "create.failed": (ERROR, _("Snapshot failed")),
    "create.stuck": (WARNING, _("Snapshot stuck")),
    "restore.succeeded": (INFO, _("Restore finished")),
    "restore.failed": (ERROR, _("Restore failed")),
    "restore.stuck": (WARNING, _("Restore stuck")),
    "delete.succeeded": (INFO, _("Snapshot deleted")),
    "delete.failed": (ERROR, _("Delete failed")),
    "delete.stuck": (WARNING, _("Delete stuck")),
    "workflow.succeeded": (INFO, _("Workflow finished")),
    "workflow.failed": (ERROR, _("Workflow failed")),
    "workflow.cancelled": (WARNING, _("Workflow cancelled")),
    "schedule.skipped": (WARNING, _("Scheduled run skipped")),
    "schedule.missed": (WARNING, _("Scheduled run missed")),
    "schedule.stale": (WARNING, _("Schedule stale")),
    "snapshot.protected_gone": (ERROR, _("Protected snapshot vanished")),
    "provider.token_rejected": (ERROR, _("Provider rejected the token")),
    "provider.unreachable": (ERROR, _("Provider unreachable")),
    "provider.back": (INFO, _("Provider reachable again")),
    "account.locked_out": (WARNING, _("User locked out")),
    "notify.target_paused": (ERROR, _("Notification target paused")),
}
TEST_TYPE = "notify.test"

# What a personal subscription ("my operations", "operations on servers matching") takes.
OPERATION_PREFIXES = ("create.", "restore.", "delete.", "workflow.")


def severity_of(event_type: str) -> Severity:
    return EVENT_TYPES.get(event_type, (INFO, ""))[0]


def is_operation(event_type: str) -> bool:
    return event_type.startswith(OPERATION_PREFIXES)


def type_choices() -> list[tuple[str, object]]:
    return [(name, label) for name, (_severity, label) in EVENT_TYPES.items()]


# Audit actions that are events as they are (the rest are mapped in ``events.from_audit``).
AUDIT_ACTIONS = {
    "schedule.run.skipped": "schedule.skipped",
    "schedule.run.missed": "schedule.missed",
    "account.locked_out": "account.locked_out",
    "workflow.succeeded": "workflow.succeeded",
    "workflow.failed": "workflow.failed",
    "workflow.cancelled": "workflow.cancelled",
    "snapshot.delete.done": "delete.succeeded",
    "snapshot.delete.failed": "delete.failed",
    "snapshot.create.refused": "create.failed",
    "server.restore.refused": "restore.failed",
}
# An operation's state (its audit action "operation.<state>" or "operation.resolved.<state>").
OPERATION_STATES = {"succeeded", "failed", "stuck"}
