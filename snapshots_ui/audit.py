"""Who did something, and the append-only record of it."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser

from snapshots_ui.models import AuditEvent, Operation


@dataclass(frozen=True)
class Actor:
    """A person (with the address they came from) or, with no user, the dashboard itself."""

    user: AbstractBaseUser | None
    ip: str | None

    @property
    def name(self) -> str:
        return self.user.get_username() if self.user is not None else "system"


SYSTEM = Actor(user=None, ip=None)


def audit_record(
    *,
    actor: Actor,
    action: str,
    operation: Operation | None = None,
    subject: str = "",
    detail: str = "",
) -> AuditEvent:
    """Append one event; an operation's server and snapshot are copied onto it. ``subject``
    names the account an account event is about."""
    return AuditEvent.objects.create(
        actor=actor.user if actor.user is not None and actor.user.pk else None,
        actor_name=actor.name,
        actor_ip=actor.ip,
        action=action,
        operation=operation,
        server_id=operation.server_id if operation else None,
        server_name=operation.server_name if operation else "",
        snapshot_id=operation.snapshot_id if operation else None,
        snapshot_name=operation.snapshot_name if operation else "",
        subject_name=subject[:150],
        detail=detail,
    )
