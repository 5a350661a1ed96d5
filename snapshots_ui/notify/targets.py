"""What Admins do with targets, the targets from NOTIFY_URLS, and what pages may show of them.

A target's address can hold credentials (a Slack token in an Apprise URL, a key in a webhook
URL) and a webhook has its signing secret: pages show ``masked_address`` only, a form leaves
them unchanged when left empty, and nothing here logs them.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlsplit

import apprise
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from snapshots_ui.audit import Actor, audit_record
from snapshots_ui.models import (
    Delivery,
    DeliveryState,
    NotificationEvent,
    NotificationTarget,
    TargetKind,
)
from snapshots_ui.notify import catalogue
from snapshots_ui.notify.events import EventData, deliveries_queue_on_commit

logger = logging.getLogger(__name__)


def masked_address(target: NotificationTarget) -> str:
    """The address without anything that may be a credential."""
    if target.kind == TargetKind.EMAIL:
        return target.address
    if target.kind == TargetKind.APPRISE:
        notifier = apprise.Apprise()
        if notifier.add(target.address) and len(notifier) == 1:
            private = notifier[0].url(privacy=True)
            return private.split("?", 1)[0]
        return f"{target.address.split(':', 1)[0]}://…"
    parts = urlsplit(target.address)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}/…"


def webhook_secret_new() -> str:
    return secrets.token_urlsafe(32)


def targets_with_counts() -> QuerySet[NotificationTarget]:
    return NotificationTarget.objects.annotate(
        delivered=Count("delivery", filter=Q(delivery__state=DeliveryState.DELIVERED)),
        failed=Count("delivery", filter=Q(delivery__state=DeliveryState.FAILED)),
        held=Count("delivery", filter=Q(delivery__state=DeliveryState.HELD)),
    )


def paused_targets() -> list[NotificationTarget]:
    return list(NotificationTarget.objects.filter(paused_at__isnull=False, enabled=True))


def deliveries_of(target: NotificationTarget | None = None, *, limit: int = 50) -> list[Delivery]:
    found = Delivery.objects.select_related("event", "target", "user").order_by("-created_at")
    if target is not None:
        found = found.filter(target=target)
    return list(found[:limit])


def target_save(*, actor: Actor, target: NotificationTarget) -> NotificationTarget:
    if target.kind == TargetKind.WEBHOOK and not target.secret:
        target.secret = webhook_secret_new()
    with transaction.atomic():
        target.save()
        audit_record(actor=actor, action="notify.target.saved", subject=target.name,
                     detail=f"{target.get_kind_display()}: {masked_address(target)}")  # fmt: skip
    logger.info("notification target saved: %s (%s)", target.name, target.kind)
    return target


def target_delete(*, actor: Actor, target: NotificationTarget) -> None:
    with transaction.atomic():
        audit_record(actor=actor, action="notify.target.deleted", subject=target.name)
        target.delete()


def target_test(*, target: NotificationTarget, actor_name: str) -> Delivery:
    """Queue a test notification to this target alone (paused or not); one attempt."""
    with transaction.atomic():
        event = _event_raise_quietly(
            EventData(
                key=f"test:{target.pk}:{timezone.now().isoformat()}",
                type=catalogue.TEST_TYPE,
                title=f"Test notification to {target.name}",
                detail=f"Sent by {actor_name} from the dashboard's notification targets page.",
                actor_name=actor_name,
            )
        )
        delivery = Delivery.objects.create(event=event, target=target, test=True)
        deliveries_queue_on_commit([delivery.pk])
    return delivery


def _event_raise_quietly(data: EventData) -> NotificationEvent:
    """A test event goes to its target only: stored without fanning out."""
    return NotificationEvent.objects.create(
        key=data.key, type=data.type, severity="info", title=data.title, detail=data.detail,
        actor_name=data.actor_name,
    )  # fmt: skip


def target_resume(*, actor: Actor, target: NotificationTarget) -> int:
    """Resume a paused target and send what it held; returns how many."""
    with transaction.atomic():
        audit_record(actor=actor, action="notify.target.resumed", subject=target.name)
        NotificationTarget.objects.filter(pk=target.pk).update(
            paused_at=None, consecutive_failures=0
        )
        held = list(
            Delivery.objects.filter(target=target, state=DeliveryState.HELD).values_list(
                "pk", flat=True
            )
        )
        Delivery.objects.filter(pk__in=held).update(state=DeliveryState.PENDING)
        deliveries_queue_on_commit(held)
    logger.info("notification target resumed: %s (%d held)", target.name, len(held))
    return len(held)
