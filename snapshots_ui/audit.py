"""Who did something, and the append-only record of it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.dispatch import Signal

from snapshots_ui.models import AuditEvent, Operation


@dataclass(frozen=True)
class Actor:
    """A person (with the address they came from) or, with no user, the dashboard itself
    (``label`` says which part of it: "system", "expiry", "schedule nightly"). ``token``
    names the API token a person acted through: "omar (token deploy-ci)"."""

    user: AbstractBaseUser | None
    ip: str | None
    label: str = "system"
    token: str = ""

    @property
    def name(self) -> str:
        if self.user is None:
            return self.label[:150]
        via = f" (token {self.token})" if self.token else ""
        return f"{self.user.get_username()}{via}"[:150]


SYSTEM = Actor(user=None, ip=None)

# Sent with ``event=`` (the AuditEvent) inside the transaction that records it: notifications
# listen here, so each thing that happened is raised once, where it is recorded.
audit_recorded = Signal()

logger = logging.getLogger(__name__)
# How an operation's audit event is logged (by its action's last word); INFO otherwise.
_LOG_LEVELS = {
    "requested": logging.DEBUG,  # "started", "refused" or "unconfirmed" follows at once
    "failed": logging.WARNING,
    "refused": logging.WARNING,
    "stuck": logging.WARNING,
    "unconfirmed": logging.WARNING,
}


def audit_record(
    *,
    actor: Actor,
    action: str,
    operation: Operation | None = None,
    subject: str = "",
    detail: str = "",
    server_id: int | None = None,
    server_name: str = "",
) -> AuditEvent:
    """Append one event; an operation's server and snapshot are copied onto it (or the server
    given). ``subject`` names what an event without an operation is about: an account, a
    workflow, a schedule. An operation's event is also logged once
    the transaction commits: operations started and finished show in the console."""
    if operation is not None:
        transaction.on_commit(lambda: _log(actor, action, operation, detail))
    event = AuditEvent.objects.create(
        actor=actor.user if actor.user is not None and actor.user.pk else None,
        actor_name=actor.name,
        actor_ip=actor.ip,
        action=action,
        operation=operation,
        server_id=operation.server_id if operation else server_id,
        server_name=operation.server_name if operation else server_name,
        snapshot_id=operation.snapshot_id if operation else None,
        snapshot_name=operation.snapshot_name if operation else "",
        subject_name=subject[:150],
        detail=detail,
    )
    audit_recorded.send(sender=AuditEvent, event=event, operation=operation)
    return event


def _log(actor: Actor, action: str, operation: Operation, detail: str) -> None:
    """``operation.succeeded: create web-01 / before-upgrade (operation 7, by system, 372 s)``
    on one line, whatever the names contain; the provider's words only when it went wrong."""
    level = _LOG_LEVELS.get(action.rsplit(".", 1)[-1], logging.INFO)
    snapshot = f" / {operation.snapshot_name}" if operation.snapshot_name else ""
    took = f", {operation.elapsed().total_seconds():.0f} s" if operation.finished_at else ""
    message = (
        f"{action}: {operation.kind} {operation.server_name}{snapshot} "
        f"(operation {operation.pk}, by {actor.name}{took})"
    )
    if detail and level >= logging.WARNING:
        message += f": {detail[:200]}"
    logger.log(level, "%s", " ".join(message.split()))
