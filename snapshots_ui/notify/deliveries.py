"""One attempt of one delivery, and what a failed attempt does to its target.

An attempt first claims the delivery (a conditional UPDATE), so two workers never send the
same one at once, and a delivery already made is never made again. A failed attempt raises
``DeliveryFailed`` (the task retries it with backoff) unless it was the last. Each target
counts its failed attempts in a row: at ``NOTIFY_PAUSE_AFTER_FAILURES`` it is paused, its
deliveries are held, and the Admins are told (banner and email) until one resumes it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from snapshots_ui.models import Delivery, DeliveryState, NotificationTarget, TargetKind
from snapshots_ui.notify import senders
from snapshots_ui.notify.events import EventData, admin_user_ids, event_raise

logger = logging.getLogger(__name__)

CLAIM_SECONDS = 90


class DeliveryFailed(Exception):
    """An attempt failed and may be tried again (its message holds no secret)."""


def _claim(delivery_id: str) -> Delivery | None:
    now = timezone.now()
    claimed = (
        Delivery.objects.filter(pk=delivery_id, state=DeliveryState.PENDING)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
    )
    if not claimed:
        return None
    return Delivery.objects.select_related("event", "target", "user").get(pk=delivery_id)


def delivery_attempt(delivery_id: str, *, last: bool) -> None:
    """Send one delivery once. Raises DeliveryFailed when it failed and is not ``last``."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return
    target = delivery.target
    if target is not None and (target.is_paused or not target.enabled) and not delivery.test:
        Delivery.objects.filter(pk=delivery.pk).update(state=DeliveryState.HELD, claimed_until=None)
        return
    sent = _send(delivery)
    paused = _count(delivery, sent)
    _record(delivery, sent, last=last or delivery.test, paused=paused)
    if sent.ok:
        logger.info(
            "notification delivered: %s to %s", delivery.event.type, delivery.recipient_name
        )
        return
    logger.warning(
        "notification to %s failed (attempt %d): %s",
        delivery.recipient_name, delivery.attempts + 1, sent.error,
    )  # fmt: skip
    if not (last or paused or delivery.test):
        raise DeliveryFailed(sent.error)


def _send(delivery: Delivery) -> senders.Sent:
    event, target = delivery.event, delivery.target
    if target is None:
        return senders.email_send([delivery.user.email], event, test=delivery.test)
    if target.kind == TargetKind.WEBHOOK:
        return senders.webhook_send(target, event, delivery_id=str(delivery.pk), test=delivery.test)
    if target.kind == TargetKind.APPRISE:
        return senders.apprise_send(target, event, test=delivery.test)
    addresses = [a.strip() for a in target.address.replace(";", ",").split(",") if a.strip()]
    return senders.email_send(addresses, event, test=delivery.test)


def _record(delivery: Delivery, sent: senders.Sent, *, last: bool, paused: bool) -> None:
    now = timezone.now()
    if sent.ok:
        state = DeliveryState.DELIVERED
    elif paused:
        state = DeliveryState.HELD
    else:
        state = DeliveryState.FAILED if last else DeliveryState.PENDING
    Delivery.objects.filter(pk=delivery.pk).update(
        state=state,
        attempts=F("attempts") + 1,
        status_code=sent.status_code,
        error=sent.error,
        last_attempt_at=now,
        delivered_at=now if sent.ok else None,
        claimed_until=None,
    )


def _count(delivery: Delivery, sent: senders.Sent) -> bool:
    """Count the attempt against its target; True when this failure paused it."""
    target = delivery.target
    if target is None or delivery.test:
        return False
    targets = NotificationTarget.objects.filter(pk=target.pk)
    if sent.ok:
        targets.update(consecutive_failures=0)
        return False
    targets.update(consecutive_failures=F("consecutive_failures") + 1)
    return target_pause_if_failing(target_id=target.pk)


def target_pause_if_failing(*, target_id: int) -> bool:
    """Pause a target that failed too often in a row; hold its deliveries and tell the
    Admins. True if this call paused it."""
    now = timezone.now()
    with transaction.atomic():
        paused = NotificationTarget.objects.filter(
            pk=target_id,
            paused_at__isnull=True,
            consecutive_failures__gte=settings.NOTIFY_PAUSE_AFTER_FAILURES,
        ).update(paused_at=now)
        if not paused:
            return False
        Delivery.objects.filter(target_id=target_id, state=DeliveryState.PENDING).update(
            state=DeliveryState.HELD
        )
        target = NotificationTarget.objects.get(pk=target_id)
        event_raise(
            EventData(
                key=f"paused:{target_id}:{now.isoformat()}",
                type="notify.target_paused",
                title=f"Notification target paused: {target.name}",
                detail=(
                    f"“{target.name}” failed {target.consecutive_failures} times in a row and "
                    "is paused; its notifications are held until an Admin resumes it."
                ),
                path=reverse("snapshots_ui:notify_target", args=[target_id]),
                extra_user_ids=admin_user_ids(),
            )
        )
    logger.warning("notification target %s paused after repeated failures", target.name)
    return True
