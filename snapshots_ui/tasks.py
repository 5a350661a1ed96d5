"""Celery tasks: thin, idempotent, given ids. The work is done in ``polling``.

Every ``VPS_POLL_SECONDS`` beat runs ``dispatch_polls``, which queues one ``poll_server`` per
server that has an operation in progress (or one ``poll_account`` sweep when many have). A poll
retries with backoff only while the provider is unavailable, honouring its ``Retry-After``.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime

from celery import Task, shared_task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from snapshots_ui import health, idempotency, lifecycle, polling, provider, schedules, workflows
from snapshots_ui.notify import deliveries, watch

logger = logging.getLogger(__name__)

POLL_SOFT_TIME_LIMIT = 25
POLL_TIME_LIMIT = 30
LIFECYCLE_TICK_LOCK = "lifecycle-tick-running"


@shared_task(
    acks_late=True,
    ignore_result=True,
    soft_time_limit=POLL_SOFT_TIME_LIMIT,
    time_limit=POLL_TIME_LIMIT,
)
def dispatch_polls() -> int:
    """Queue a poll for each server with work in progress; returns how many were queued."""
    health.worker_heartbeat_touch()
    return polling.polls_dispatch(now=timezone.now())


def _retry_countdown(task: Task, exc: provider.ProviderUnavailable) -> float:
    """The provider's Retry-After, else exponential backoff; with jitter, and far below
    Redis' visibility timeout, or a waiting retry would be delivered twice."""
    ceiling = settings.VPS_POLL_MAX_RETRY_SECONDS
    backoff = min(ceiling, 2 ** min(task.request.retries + 1, 8))
    countdown = exc.retry_after if exc.retry_after is not None else backoff
    return min(ceiling, countdown + random.uniform(0, 1))  # noqa: S311 - jitter, not secrecy


def _poll(task: Task, *, server_id: int | None) -> None:
    try:
        if server_id is None:
            polling.account_poll_once()
        else:
            polling.poll_once(server_id=server_id)
    except provider.ProviderUnavailable as exc:
        countdown = _retry_countdown(task, exc)
        logger.warning(
            "provider unavailable while polling %s (%s); retry in %.0f s",
            polling.polled_name(server_id), exc.message, countdown,
        )  # fmt: skip
        polling.poll_lock_hold(server_id=server_id, seconds=countdown)
        raise task.retry(exc=exc, countdown=countdown) from exc


# Retried without limit, but only while the provider is unavailable (see ``_poll``).
POLL_TASK_OPTIONS = {
    "bind": True,
    "acks_late": True,
    "ignore_result": True,
    "soft_time_limit": POLL_SOFT_TIME_LIMIT,
    "time_limit": POLL_TIME_LIMIT,
    "max_retries": None,
}


@shared_task(name=polling.POLL_SERVER_TASK, **POLL_TASK_OPTIONS)
def poll_server(self: Task, server_id: int) -> None:
    """Follow one server's operations once."""
    _poll(self, server_id=server_id)


@shared_task(name=polling.POLL_ACCOUNT_TASK, **POLL_TASK_OPTIONS)
def poll_account(self: Task) -> None:
    """Follow every operation from the account-wide lists once."""
    _poll(self, server_id=None)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=25, time_limit=30)
def workflow_advance(workflow_id: int) -> None:
    """Move one chained workflow on (queued when one of its operations ends)."""
    workflows.workflow_advance(workflow_id)


@shared_task(
    acks_late=True,
    ignore_result=True,
    soft_time_limit=POLL_SOFT_TIME_LIMIT * 4,
    time_limit=POLL_TIME_LIMIT * 4,
)
def lifecycle_tick() -> None:
    """Every ``VPS_LIFECYCLE_TICK_SECONDS``: pick up running workflows, plan and start due
    schedule runs, close finished ones, delete expired snapshots. Each part runs even when
    another fails. A tick still running when the next is due makes that one a no-op."""
    if not cache.add(LIFECYCLE_TICK_LOCK, 1, timeout=POLL_TIME_LIMIT * 4):
        return
    try:
        _lifecycle_parts(now=timezone.now())
    finally:
        cache.delete(LIFECYCLE_TICK_LOCK)


def _lifecycle_parts(*, now: datetime) -> None:
    for part in (
        workflows.workflows_resume,
        lambda: schedules.schedules_tick(now=now),
        lambda: schedules.schedule_runs_start(now=now),
        lambda: schedules.schedule_runs_finish(now=now),
        lambda: lifecycle.expiry_run(now=now),
        lambda: idempotency.idempotency_forget(now=now),
    ):
        try:
            part()
        except Exception:
            logger.exception("lifecycle tick: a part failed")


@shared_task(
    bind=True,
    acks_late=True,
    ignore_result=True,
    soft_time_limit=40,
    time_limit=50,
    autoretry_for=(deliveries.DeliveryFailed,),
    retry_backoff=settings.NOTIFY_RETRY_BACKOFF_SECONDS,
    retry_backoff_max=settings.NOTIFY_RETRY_MAX_SECONDS,
    retry_jitter=True,
    max_retries=max(0, settings.NOTIFY_MAX_ATTEMPTS - 1),
)
def notify_deliver(self: Task, delivery_id: str) -> None:
    """One attempt of one notification; a failed one is retried with exponential backoff
    (the delivery's id makes a repeat harmless, and a delivered one is never sent again)."""
    deliveries.delivery_attempt(delivery_id, last=self.request.retries >= self.max_retries)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=50, time_limit=60)
def notify_watch() -> None:
    """Every ``NOTIFY_WATCH_SECONDS``: outages, vanished protected snapshots, stale schedules,
    lost deliveries."""
    watch.watch_once(now=timezone.now())
