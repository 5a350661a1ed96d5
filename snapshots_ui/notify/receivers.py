"""Listening to the audit trail: each audit record that stands for an event raises it, in the
transaction that records it (so an action rolled back raises nothing). A failure here is
logged and never breaks the action."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from snapshots_ui.models import AuditEvent, Operation
from snapshots_ui.notify.events import event_raise, from_audit

logger = logging.getLogger(__name__)


def on_audit_recorded(
    sender: object, event: AuditEvent, operation: Operation | None = None, **kwargs: Any
) -> None:
    try:
        with transaction.atomic():  # a savepoint: a failure here leaves the action's own intact
            data = from_audit(event, operation)
            if data is not None:
                event_raise(data)
    except Exception:
        logger.exception("notification for %s could not be raised", event.action)
