"""Following operations at the provider until they end.

A poll of one server reads that server's snapshots (for creates) and state (for restores) and
brings each of its operations in progress up to date. When many servers have work, one sweep
of the account-wide lists replaces the per-server polls: its cost is the lists' pages, however
many servers and operations there are.

A per-server lock in the cache keeps at most one poll of a server queued or running, so the
provider sees one call per server per period however many operations or browsers there are. A
poll lost with a worker or with Redis is dispatched again once its lock expires. Outcomes are
written with one UPDATE for everything unchanged and a conditional UPDATE per change, so
overlapping polls never record one outcome twice.

Polls are queued by task name: the tasks module calls this one, never the other way round.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from snapshots_ui import outcomes, provider, selectors
from snapshots_ui.audit import SYSTEM, audit_record
from snapshots_ui.fleet_cache import (
    FleetData,
    fleet_fetch,
    fleet_invalidate,
    fleet_pages,
    fleet_patch,
    fleet_store,
    provider_problem_clear,
    provider_problem_record,
)
from snapshots_ui.models import Operation, OperationKind
from snapshots_ui.provider import budget
from snapshots_ui.records import record_from_operation, records_seen

logger = logging.getLogger(__name__)

POLL_SERVER_TASK = "snapshots_ui.tasks.poll_server"
POLL_ACCOUNT_TASK = "snapshots_ui.tasks.poll_account"
WORKFLOW_ADVANCE_TASK = "snapshots_ui.tasks.workflow_advance"
_ACCOUNT_LOCK = "poll-lock:account"
_PERIOD_KEY = "poll-period"


def _lock_key(server_id: int | None) -> str:
    return _ACCOUNT_LOCK if server_id is None else f"poll-lock:{server_id}"


# --- Queueing -----------------------------------------------------------------------------------


def _send(task_name: str, *args: object) -> None:
    current_app.send_task(task_name, args=list(args))


def server_poll_queue(server_id: int) -> bool:
    """Queue a poll of one server unless one is already queued or running."""
    if not cache.add(_lock_key(server_id), True, timeout=settings.VPS_POLL_LOCK_SECONDS):
        return False
    _send(POLL_SERVER_TASK, server_id)
    return True


def server_poll_queue_on_commit(server_id: int) -> None:
    transaction.on_commit(lambda: server_poll_queue(server_id))


def account_poll_queue() -> bool:
    """Queue a sweep of every server unless one is already queued or running."""
    if not cache.add(_ACCOUNT_LOCK, True, timeout=settings.VPS_POLL_LOCK_SECONDS):
        return False
    _send(POLL_ACCOUNT_TASK)
    return True


def account_poll_pending() -> bool:
    return bool(cache.get(_ACCOUNT_LOCK))


def polls_dispatch(*, now: datetime) -> int:
    """Queue a poll for each server with work due, or one sweep of the account-wide lists when
    many servers have work and the sweep costs fewer calls; returns how many were queued.

    The period stretches to what the provider budget allows for a cycle's calls."""
    if account_poll_pending():
        return 0  # a sweep is queued or running: it covers every server
    calls = selectors.poll_calls_by_server()
    sweep_calls = fleet_pages() or 2
    sweep = len(calls) >= settings.VPS_POLL_SWEEP_SERVERS and sweep_calls <= sum(calls.values())
    cycle = (sweep_calls if sweep else sum(calls.values())) if calls else 0
    period = budget.poll_period(cycle)
    budget.note_poll_load(cycle * 60 / period)
    cache.set(_PERIOD_KEY, period, timeout=max(60, int(period * 3)))
    due = selectors.servers_due_for_poll(now=now, period=period)
    if sweep and due:
        return int(account_poll_queue())
    return sum(server_poll_queue(server_id) for server_id in sorted(due))


def poll_period_current() -> float:
    """Seconds between two checks of an operation in progress, as the budget allows now."""
    return float(cache.get(_PERIOD_KEY) or settings.VPS_POLL_SECONDS)


def poll_lock_hold(*, server_id: int | None, seconds: float) -> None:
    """Keep a poll's lock while its retry waits, so that no other poll is queued meanwhile."""
    cache.set(_lock_key(server_id), True, timeout=int(seconds) + settings.VPS_POLL_LOCK_SECONDS)


# --- One poll -----------------------------------------------------------------------------------


def poll_once(*, server_id: int | None) -> None:
    """Follow one server's operations (None: every server's, from one sweep) once.

    Raises ``ProviderUnavailable`` (recorded on the operations) for the caller to retry later;
    the lock stays held. After a rejected token the lock is kept for
    ``VPS_TOKEN_REJECTED_PAUSE_SECONDS``: polling again at once would only be rejected again.
    """
    poll: Callable[[], object] = (
        operations_poll_account
        if server_id is None
        else lambda: operations_poll_server(server_id=server_id)
    )
    lock = _lock_key(server_id)
    try:
        poll()
    except provider.ProviderUnavailable as exc:
        operations_record_check_failure(server_id=server_id, error=exc.message)
        raise
    except provider.ProviderUnauthorized as exc:
        message = _("The provider rejected the API token; status checks are paused.")
        operations_record_check_failure(server_id=server_id, error=message)
        provider_problem_record(exc)
        cache.set(lock, True, timeout=settings.VPS_TOKEN_REJECTED_PAUSE_SECONDS)
        return
    except provider.ProviderError as exc:
        operations_record_check_failure(server_id=server_id, error=exc.message)
        logger.warning("polling %s failed: %s", polled_name(server_id), exc.message)
    cache.delete(lock)


def account_poll_once() -> None:
    """One sweep; the next is queued at once when this one took longer than the period and
    work remains, so operations are followed back to back rather than at the next tick."""
    started = time.monotonic()
    poll_once(server_id=None)
    if (
        time.monotonic() - started >= settings.VPS_POLL_SECONDS
        and selectors.operations_active_exist()
    ):
        account_poll_queue()


def polled_name(server_id: int | None) -> str:
    return "every server" if server_id is None else f"server {server_id}"


def operations_poll_server(*, server_id: int) -> list[Operation]:
    """Bring every active operation on one server up to date with one or two provider calls.

    Raises ProviderUnavailable (the caller retries later) and ProviderUnauthorized (the token
    is wrong; retrying will not help until someone fixes it). Returns the operations whose
    state changed.
    """
    operations = list(selectors.operations_active_for_server(server_id=server_id))
    if not operations:
        return []
    client = provider.get_client()
    now = timezone.now()
    snapshots: list[provider.Snapshot] | None = None
    if any(op.kind in (OperationKind.CREATE, OperationKind.DELETE) for op in operations):
        snapshots = [
            snapshot
            for snapshot in client.list_snapshots(server_id=server_id)
            if snapshot.server.id == server_id
        ]
    servers: dict[int, provider.Server | None] = {}
    if any(op.kind == OperationKind.RESTORE for op in operations):
        servers[server_id] = _server_or_none(client, server_id)
    changed = outcomes.operations_follow(
        operations, snapshots=snapshots or [], servers=servers, now=now
    )
    if changed:
        # The stored lists take what was just read before the outcome is recorded: a page
        # that reloads when it sees the outcome must find the new lists, never the old ones.
        _fleet_take_server_reading(server_id, snapshots=snapshots, servers=servers)
    _record_poll(operations, changed=changed, now=now)
    return changed


def _fleet_take_server_reading(
    server_id: int,
    *,
    snapshots: list[provider.Snapshot] | None,
    servers: dict[int, provider.Server | None],
) -> None:
    """Put one server's freshly read snapshots and state into the stored lists."""
    if server_id in servers and servers[server_id] is None:
        fleet_invalidate()  # the server is gone: let the next read find out what else is
        return

    if snapshots is not None:
        records_seen(snapshot_ids=[s.id for s in snapshots], server_ids=[server_id])

    def change(fleet: FleetData) -> FleetData:
        if snapshots is not None:
            fleet = fleet.with_server_snapshots(server_id, snapshots)
        server = servers.get(server_id)
        return fleet.with_server(server) if server is not None else fleet

    fleet_patch(server_id=server_id, change=change)


def operations_poll_account() -> list[Operation]:
    """Bring every active operation up to date from one reading of the account-wide lists,
    which are also stored as the pages' fleet. Raises like ``operations_poll_server``;
    returns the operations whose state changed."""
    operations = list(Operation.objects.active())
    if not operations:
        return []
    now = timezone.now()
    data = fleet_fetch()
    servers: dict[int, provider.Server | None] = {server.id: server for server in data.servers}
    missing = {op.server_id for op in operations if op.kind == OperationKind.RESTORE} - set(servers)
    if missing:  # gone, or a provider whose list leaves some out: ask for each one
        client = provider.get_client()
        for server_id in missing:
            servers[server_id] = _server_or_none(client, server_id)
    changed = outcomes.operations_follow(
        operations, snapshots=data.snapshots, servers=servers, now=now
    )
    fleet_store(data)
    _record_poll(operations, changed=changed, now=now)
    return changed


def _server_or_none(client: provider.ProviderClient, server_id: int) -> provider.Server | None:
    """The server, or None when the provider says it no longer exists."""
    try:
        return client.get_server(server_id=server_id)
    except provider.ProviderNotFound:
        return None


# --- Recording what a poll found ----------------------------------------------------------------

# What a poll may change; written back only while the operation is active.
_FOLLOWED_FIELDS = (
    "last_checked_at",
    "check_failures",
    "state",
    "finished_at",
    "error",
    "needs_reconcile",
    "snapshot_id",
    "snapshot_created_at",
    "provider_message",
)


def _record_poll(operations: list[Operation], *, changed: list[Operation], now: datetime) -> None:
    """Save one poll's findings: one UPDATE for the unchanged, one per change with its audit
    event. An operation that ended meanwhile (a poll that overlapped, an Admin closing it) is
    left as it is, so no outcome is recorded twice."""
    provider_problem_clear()
    unchanged = [op.pk for op in operations if op not in changed]
    with transaction.atomic():
        Operation.objects.active().filter(pk__in=unchanged).update(
            last_checked_at=now, check_failures=0
        )
        for operation in changed:
            operation.last_checked_at = now
            operation.check_failures = 0
            fields = {name: getattr(operation, name) for name in _FOLLOWED_FIELDS}
            updated = Operation.objects.active().filter(pk=operation.pk).update(**fields)
            if updated:
                audit_record(
                    actor=SYSTEM,
                    action=f"operation.{operation.state}",
                    operation=operation,
                    detail=operation.error or operation.provider_message,
                )
                record_from_operation(operation)
    _workflows_advance_soon([op.pk for op in changed])


def _workflows_advance_soon(operation_ids: list[int]) -> None:
    """Operations of chained workflows changed: let their workflows move on (by task name, so
    that this module does not depend on the engine above it)."""
    if not operation_ids:
        return
    workflow_ids = Operation.objects.filter(
        pk__in=operation_ids, workflow_step__isnull=False
    ).values_list("workflow_step__workflow_id", flat=True)
    for workflow_id in set(workflow_ids):
        transaction.on_commit(lambda wid=workflow_id: _send(WORKFLOW_ADVANCE_TASK, wid))


def operations_record_check_failure(*, server_id: int | None, error: str) -> None:
    """Note on each active operation of a server (None: of every server) that the provider
    could not be asked."""
    operations = Operation.objects.active()
    if server_id is not None:
        operations = operations.filter(server_id=server_id)
    operations.update(
        last_checked_at=timezone.now(), error=error, check_failures=F("check_failures") + 1
    )
