"""Raising an event once, and fanning it out: one delivery per matching target and per person.

An event is keyed by its cause (``audit:<id>``, ``gone:<snapshot>:<time>``, ...): raising the
same cause again (a poll that ran twice, a watch that overlapped) finds the first event and
makes no delivery. Deliveries are queued when the transaction commits; one whose task is lost
is queued again by the watch.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import re
from dataclasses import dataclass, field

from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.urls import reverse

from snapshots_ui import roles
from snapshots_ui.models import (
    AuditEvent,
    Delivery,
    DeliveryState,
    NotificationEvent,
    NotificationTarget,
    Operation,
    Severity,
    Subscription,
    SubscriptionScope,
    TargetKind,
    Workflow,
)
from snapshots_ui.notify import catalogue

logger = logging.getLogger(__name__)

DELIVER_TASK = "snapshots_ui.tasks.notify_deliver"
_WORKFLOW_SUBJECT = re.compile(r"#(\d+)$")
_ENV_PREFIX = "NOTIFY_URLS "
_env_synced: list[bool] = []


@dataclass(frozen=True)
class EventData:
    """What is known of an event before it is stored."""

    key: str
    type: str
    title: str
    detail: str = ""
    server_id: int | None = None
    server_name: str = ""
    snapshot_id: int | None = None
    snapshot_name: str = ""
    actor_name: str = ""
    actor_id: int | None = None
    path: str = ""
    extra_user_ids: list[int] = field(default_factory=list)


def event_raise(data: EventData) -> NotificationEvent | None:
    """Store the event and its deliveries unless it was raised before; None if it was."""
    fields = {
        name: getattr(data, name)
        for name in ("type", "title", "detail", "server_id", "server_name", "snapshot_id",
                     "snapshot_name", "actor_name", "actor_id", "path")
    }  # fmt: skip
    fields["title"] = data.title[:300]
    try:
        with transaction.atomic():
            event, created = NotificationEvent.objects.get_or_create(
                key=data.key, defaults={**fields, "severity": catalogue.severity_of(data.type)}
            )
            if not created:
                return None
            deliveries = _fan_out(event, extra_user_ids=data.extra_user_ids)
    except IntegrityError:  # raised at the same moment elsewhere
        return None
    for delivery in deliveries:
        if delivery.state == DeliveryState.PENDING:
            deliveries_queue_on_commit([delivery.pk])
    logger.info("notification %s: %s (%d deliveries)", event.type, event.key, len(deliveries))
    return event


def deliveries_queue_on_commit(delivery_ids: list[object]) -> None:
    for delivery_id in delivery_ids:
        transaction.on_commit(
            lambda did=str(delivery_id): current_app.send_task(DELIVER_TASK, args=[did])
        )


# --- Matchers -----------------------------------------------------------------------------------


def target_takes(target: NotificationTarget, event: NotificationEvent) -> bool:
    """The target's matchers: event types (none: all), least severity, server-name pattern
    (an event about no server never matches a pattern)."""
    if target.event_types and event.type not in target.event_types:
        return False
    if Severity(event.severity).rank < Severity(target.min_severity).rank:
        return False
    if target.server_pattern:
        return bool(event.server_name) and fnmatch.fnmatchcase(
            event.server_name, target.server_pattern
        )
    return True


def _subscribers(event: NotificationEvent) -> set[int]:
    """People whose own subscription takes this event (operations only)."""
    if not catalogue.is_operation(event.type):
        return set()
    found = set()
    for subscription in Subscription.objects.exclude(scope=SubscriptionScope.NONE):
        if subscription.scope == SubscriptionScope.MINE:
            if event.actor_id is not None and subscription.user_id == event.actor_id:
                found.add(subscription.user_id)
        elif subscription.server_pattern and fnmatch.fnmatchcase(
            event.server_name, subscription.server_pattern
        ):
            found.add(subscription.user_id)
    return found


def admin_user_ids() -> list[int]:
    return list(
        get_user_model()
        .objects.filter(is_active=True, groups__name=roles.ADMIN)
        .exclude(email="")
        .values_list("pk", flat=True)
        .distinct()
    )


def _fan_out(event: NotificationEvent, *, extra_user_ids: list[int]) -> list[Delivery]:
    """One delivery per matching target (held when it is paused) and per person."""
    if not _env_synced:
        env_targets_sync()
        _env_synced.append(True)
    deliveries = [
        Delivery(
            event=event,
            target=target,
            state=DeliveryState.HELD if target.is_paused else DeliveryState.PENDING,
        )
        for target in NotificationTarget.objects.filter(enabled=True)
        if target_takes(target, event)
    ]
    people = _subscribers(event) | set(extra_user_ids)
    active = get_user_model().objects.filter(pk__in=people, is_active=True).exclude(email="")
    deliveries += [Delivery(event=event, user_id=pk) for pk in active.values_list("pk", flat=True)]
    return Delivery.objects.bulk_create(deliveries)


def env_targets_sync() -> None:
    """Targets made from NOTIFY_URLS: one per URL (named by a digest, never the URL), removed
    when the URL leaves the environment."""
    wanted = {}
    for url in settings.NOTIFY_URLS:
        digest = hashlib.sha256(url.encode()).hexdigest()[:10]
        wanted[f"{_ENV_PREFIX}#{digest}"] = url
    with transaction.atomic():
        NotificationTarget.objects.filter(from_env=True).exclude(name__in=wanted).delete()
        for name, url in wanted.items():
            NotificationTarget.objects.get_or_create(
                name=name, defaults={"kind": TargetKind.APPRISE, "address": url, "from_env": True}
            )


# --- From the audit trail -----------------------------------------------------------------------


def from_audit(event: AuditEvent, operation: Operation | None) -> EventData | None:
    """The notification an audit record stands for, if any."""
    action = event.action
    event_type = catalogue.AUDIT_ACTIONS.get(action)
    if event_type is None and operation is not None:
        state = action.rsplit(".", 1)[-1]
        if action.startswith("operation.") and state in catalogue.OPERATION_STATES:
            event_type = f"{operation.kind}.{state}"
    if event_type is None:
        return None
    owner = _owner(event, operation)
    return EventData(
        key=f"audit:{event.pk}",
        type=event_type,
        title=_title(event_type, event, operation),
        detail=event.detail,
        server_id=event.server_id,
        server_name=event.server_name,
        snapshot_id=event.snapshot_id,
        snapshot_name=event.snapshot_name or ("" if operation else event.subject_name),
        actor_name=owner[1] or event.actor_name,
        actor_id=owner[0],
        path=reverse("snapshots_ui:server", args=[event.server_id]) if event.server_id else "",
    )


def _owner(event: AuditEvent, operation: Operation | None) -> tuple[int | None, str]:
    """Whose operation (or workflow) it is: the person who started it."""
    if operation is not None:
        return operation.requested_by_id, operation.requested_by_name
    if event.action.startswith("workflow."):
        found = _WORKFLOW_SUBJECT.search(event.subject_name)
        workflow = Workflow.objects.filter(pk=int(found[1])).first() if found else None
        if workflow is not None:
            return workflow.started_by_id, workflow.started_by_name
    return event.actor_id, event.actor_name


def _title(event_type: str, event: AuditEvent, operation: Operation | None) -> str:
    label = str(catalogue.EVENT_TYPES[event_type][1])
    about = event.server_name or event.subject_name
    if operation is not None and operation.snapshot_name:
        about = f"{about} / {operation.snapshot_name}"
    elif event.action.startswith(("workflow.", "schedule.")):
        about = f"{event.subject_name} on {event.server_name}" if event.server_name else about
    return f"{label}: {about}" if about else label
