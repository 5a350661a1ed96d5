"""Celery tasks: thin, idempotent, given ids; the services do the work.

Every ``VPS_POLL_SECONDS`` beat runs ``dispatch_polls``, which queues one ``poll_server`` per
server that has an operation in progress. A per-server lock in the cache keeps at most one
poll of a server queued or running, so the provider sees one call per server per cycle however
many operations or browsers there are. A poll lost with a worker or with Redis is simply
dispatched again once its lock expires: nothing else needs to remember it.

When ``VPS_POLL_SWEEP_SERVERS`` or more servers have work, one ``poll_account`` replaces the
per-server polls: it reads the account-wide lists (their pages are then the whole cost) and
follows every operation from them. A sweep slower than the period queues the next one as it
ends, so operations are followed back to back rather than at the next tick.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _

from snapshots_ui import provider, services
from snapshots_ui.models import Operation, OperationState
from snapshots_ui.selectors import PROVIDER_PROBLEM_KEY

logger = logging.getLogger(__name__)

POLL_SOFT_TIME_LIMIT = 25
POLL_TIME_LIMIT = 30

# Far below Redis' visibility timeout, or a waiting retry would be delivered twice.
MAX_RETRY_COUNTDOWN = 300
STUCK_POLL_SECONDS = 30
# The dispatch task leaves its time here; /health/ reports the worker stale past the maximum.
WORKER_HEARTBEAT_KEY = "worker:heartbeat"
WORKER_HEARTBEAT_MAX_AGE = 60


ACCOUNT_POLL_LOCK = "poll-lock:account"


def _poll_lock(server_id: int) -> str:
    return f"poll-lock:{server_id}"


def dispatch_server_poll(server_id: int) -> bool:
    """Queue a poll of one server unless one is already queued or running."""
    if not cache.add(_poll_lock(server_id), True, timeout=settings.VPS_POLL_LOCK_SECONDS):
        return False
    poll_server.delay(server_id)
    return True


def dispatch_account_poll() -> bool:
    """Queue a sweep of every server unless one is already queued or running."""
    if not cache.add(ACCOUNT_POLL_LOCK, True, timeout=settings.VPS_POLL_LOCK_SECONDS):
        return False
    poll_account.delay()
    return True


@shared_task(
    acks_late=True,
    ignore_result=True,
    soft_time_limit=POLL_SOFT_TIME_LIMIT,
    time_limit=POLL_TIME_LIMIT,
)
def dispatch_polls() -> int:
    """Queue a poll for each server with work in progress; returns how many were queued."""
    cache.set(WORKER_HEARTBEAT_KEY, timezone.now(), timeout=WORKER_HEARTBEAT_MAX_AGE * 10)
    if cache.get(ACCOUNT_POLL_LOCK):
        return 0  # a sweep is queued or running: it covers every server
    queued = 0
    now = timezone.now()
    # However late or bunched the ticks arrive, a server is polled at most once per period.
    recent_cutoff = now - timedelta(seconds=settings.VPS_POLL_SECONDS * 0.75)
    stuck_cutoff = now - timedelta(seconds=STUCK_POLL_SECONDS)
    rows = (
        Operation.objects.active()
        .values_list("server_id", "state", "last_checked_at")
        .order_by("server_id")
    )
    due: set[int] = set()
    recent: set[int] = set()
    for server_id, state, last_checked_at in rows:
        if last_checked_at is not None and last_checked_at > recent_cutoff:
            recent.add(server_id)
        # A stuck operation is still followed, but only every STUCK_POLL_SECONDS.
        elif not (
            state == OperationState.STUCK
            and last_checked_at is not None
            and last_checked_at > stuck_cutoff
        ):
            due.add(server_id)
    due -= recent
    if len(due) >= settings.VPS_POLL_SWEEP_SERVERS:
        return int(dispatch_account_poll())
    for server_id in sorted(due):
        queued += dispatch_server_poll(server_id)
    return queued


def _poll(task, *, lock: str, poll, server_id: int | None) -> None:  # type: ignore[no-untyped-def]
    """Run one poll; retry with backoff only when the provider is unavailable, honouring its
    Retry-After, and pause after a rejected token. ``server_id`` None means every server."""
    try:
        poll()
    except provider.ProviderUnavailable as exc:
        services.operations_record_check_failure(server_id=server_id, error=exc.message)
        backoff = min(MAX_RETRY_COUNTDOWN, 2 ** min(task.request.retries + 1, 8))
        countdown = exc.retry_after if exc.retry_after is not None else backoff
        countdown = min(MAX_RETRY_COUNTDOWN, countdown + random.uniform(0, 1))  # noqa: S311 - jitter, not secrecy
        logger.warning(
            "provider unavailable while polling %s (%s); retry in %.0f s",
            _polled(server_id), exc.message, countdown,
        )  # fmt: skip
        cache.set(lock, True, timeout=int(countdown) + settings.VPS_POLL_LOCK_SECONDS)
        raise task.retry(exc=exc, countdown=countdown) from exc
    except provider.ProviderUnauthorized as exc:
        message = _("The provider rejected the API token; status checks are paused.")
        services.operations_record_check_failure(server_id=server_id, error=message)
        cache.set(
            PROVIDER_PROBLEM_KEY,
            {"message": exc.message, "token_rejected": True, "at": None},
            timeout=None,
        )
        # Keep the lock a while: polling again at once would only be rejected again.
        cache.set(lock, True, timeout=settings.VPS_TOKEN_REJECTED_PAUSE_SECONDS)
        return
    except provider.ProviderError as exc:
        services.operations_record_check_failure(server_id=server_id, error=exc.message)
        logger.warning("polling %s failed: %s", _polled(server_id), exc.message)
    cache.delete(lock)


# Retried without limit, but only while the provider is unavailable (see ``_poll``).
POLL_TASK_OPTIONS = {
    "bind": True,
    "acks_late": True,
    "ignore_result": True,
    "soft_time_limit": POLL_SOFT_TIME_LIMIT,
    "time_limit": POLL_TIME_LIMIT,
    "max_retries": None,
}


def _polled(server_id: int | None) -> str:
    return "every server" if server_id is None else f"server {server_id}"


@shared_task(**POLL_TASK_OPTIONS)
def poll_server(self, server_id: int) -> None:  # type: ignore[no-untyped-def]
    """Follow one server's operations once."""
    _poll(
        self,
        lock=_poll_lock(server_id),
        poll=lambda: services.operations_poll_server(server_id=server_id),
        server_id=server_id,
    )


@shared_task(**POLL_TASK_OPTIONS)
def poll_account(self) -> None:  # type: ignore[no-untyped-def]
    """Follow every operation from the account-wide lists once; queue the next sweep at once
    when this one took longer than the period and work remains."""
    started = time.monotonic()
    _poll(self, lock=ACCOUNT_POLL_LOCK, poll=services.operations_poll_account, server_id=None)
    if (
        time.monotonic() - started >= settings.VPS_POLL_SECONDS
        and Operation.objects.active().exists()
    ):
        dispatch_account_poll()
