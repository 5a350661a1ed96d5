"""What no action records, looked for by beat every ``NOTIFY_WATCH_SECONDS``: the provider
rejecting the token or unreachable for longer than ``NOTIFY_PROVIDER_DOWN_MINUTES`` (and back
again), protected snapshots that vanished, stale schedules, and deliveries whose task was lost.

Each event is keyed by what it is about and when it began, so an overlapping watch or a
restarted beat raises nothing twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.urls import reverse

from snapshots_ui import schedules
from snapshots_ui.fleet_cache import provider_problem_current
from snapshots_ui.models import Delivery, DeliveryState, Schedule, SnapshotRecord
from snapshots_ui.notify.events import (
    EventData,
    deliveries_queue_on_commit,
    env_targets_sync,
    event_raise,
)

logger = logging.getLogger(__name__)

_DOWN_SINCE = "notify:provider-down-since"
_DOWN_RAISED = "notify:provider-down-raised"
# Vanished protected snapshots older than this when first seen are not raised (a first deploy).
_GONE_RECENT = timedelta(days=1)


def watch_once(*, now: datetime) -> None:
    for part in (
        env_targets_sync,
        lambda: provider_watch(now=now),
        lambda: protected_gone_watch(now=now),
        lambda: stale_schedules_watch(now=now),
        lambda: lost_deliveries_requeue(now=now),
    ):
        try:
            part()
        except Exception:
            logger.exception("notification watch: a part failed")


def provider_watch(*, now: datetime) -> None:
    """A rejected token is raised at once; an outage once it lasts; its end once raised."""
    problem = provider_problem_current()
    raised = cache.get(_DOWN_RAISED)
    if problem is None:
        cache.delete(_DOWN_SINCE)
        if raised:
            cache.delete(_DOWN_RAISED)
            event_raise(_provider_event("provider.back", raised, "The provider answers again."))
        return
    since = cache.get(_DOWN_SINCE)
    if since is None:
        since = problem.at.isoformat()
        cache.set(_DOWN_SINCE, since, timeout=None)
    if problem.token_rejected:
        event_type = "provider.token_rejected"
    elif now - datetime.fromisoformat(since) >= timedelta(
        minutes=settings.NOTIFY_PROVIDER_DOWN_MINUTES
    ):
        event_type = "provider.unreachable"
    else:
        return
    event_raise(_provider_event(event_type, since, problem.message))
    cache.set(_DOWN_RAISED, since, timeout=None)


def _provider_event(event_type: str, since: str, detail: str) -> EventData:
    titles = {
        "provider.token_rejected": "The provider rejected the dashboard's API token",
        "provider.unreachable": "The provider has been unreachable since "
        f"{since[:16].replace('T', ' ')} UTC",
        "provider.back": "The provider is reachable again",
    }
    return EventData(
        key=f"{event_type}:{since}",
        type=event_type,
        title=titles[event_type],
        detail=detail,
        path=reverse("snapshots_ui:fleet"),
    )


def protected_gone_watch(*, now: datetime) -> None:
    for record in SnapshotRecord.objects.filter(
        protected=True, gone_at__isnull=False, gone_at__gte=now - _GONE_RECENT
    ):
        event_raise(
            EventData(
                key=f"gone:{record.snapshot_id}:{record.gone_at.isoformat()}",
                type="snapshot.protected_gone",
                title=f"Protected snapshot vanished: {record.server_name} / {record.name}",
                detail="The provider no longer lists this protected snapshot.",
                server_id=record.server_id,
                server_name=record.server_name,
                snapshot_id=record.snapshot_id,
                snapshot_name=record.name,
                path=reverse("snapshots_ui:server", args=[record.server_id]),
            )
        )


def stale_schedules_watch(*, now: datetime) -> None:
    for schedule in Schedule.objects.filter(paused=False):
        if not schedules.stale(schedule, now=now):
            continue
        since = schedule.last_success_at or schedule.created_at
        event_raise(
            EventData(
                key=f"stale:{schedule.pk}:{since.isoformat()}",
                type="schedule.stale",
                title=f"Schedule stale: {schedule.name}",
                detail=f"No successful run since {since:%Y-%m-%d %H:%M} UTC.",
                server_id=schedule.server_id,
                server_name=schedule.server_pattern,
                path=reverse("snapshots_ui:schedule_edit", args=[schedule.pk]),
            )
        )


def lost_deliveries_requeue(*, now: datetime) -> int:
    """Pending deliveries nothing has tried for longer than any retry waits: queue again."""
    quiet_since = now - timedelta(seconds=settings.NOTIFY_RETRY_MAX_SECONDS + 60)
    lost = list(
        Delivery.objects.filter(state=DeliveryState.PENDING)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .filter(
            Q(last_attempt_at__lt=quiet_since)
            | Q(last_attempt_at__isnull=True, created_at__lt=quiet_since)
        )
        .values_list("pk", flat=True)[:500]
    )
    deliveries_queue_on_commit(lost)
    return len(lost)
