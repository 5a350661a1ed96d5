"""Reads: what the pages, the services and the poller need to know. Nothing here writes.

Provider data comes from the stored lists (``fleet_cache``); operations from the database.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from snapshots_ui import provider
from snapshots_ui.fleet_cache import (
    FleetUnavailable,
    FleetView,
    fleet_current,
    fleet_recheck,
    fleet_refresh,
    fleet_server_read,
    provider_problem_record,
)
from snapshots_ui.models import (
    ACCOUNT_EVENT_PREFIX,
    EXPIRY_ACTOR_NAME,
    LIFECYCLE_EVENT_PREFIXES,
    SCHEDULE_ACTOR_PREFIX,
    AuditEvent,
    Operation,
    OperationKind,
)
from snapshots_ui.statuses import OperationState


class NotFound(Exception):
    """The provider knows no such server or snapshot; ``message`` says which."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class ServerSummary:
    """One server with its snapshots (newest first) and its operations in progress."""

    server: provider.Server
    snapshots: list[provider.Snapshot] = field(default_factory=list)
    active_operations: list[Operation] = field(default_factory=list)
    # Filled in by pages that show the lifecycle (see lifecycle_reads).
    slot_views: list[object] = field(default_factory=list)
    notices: list[object] = field(default_factory=list)

    @property
    def snapshot_count(self) -> int:
        return len(self.snapshots)

    @property
    def limit(self) -> int:
        return settings.VPS_SNAPSHOTS_PER_SERVER

    @property
    def at_limit(self) -> bool:
        return self.snapshot_count >= self.limit

    @property
    def total_size_mb(self) -> int:
        return sum(snapshot.size_mb or 0 for snapshot in self.snapshots)

    @property
    def newest_snapshot_at(self) -> datetime | None:
        dates = [s.created_at for s in self.snapshots if s.created_at is not None]
        return max(dates) if dates else None

    @property
    def restore_running(self) -> bool:
        return any(op.kind == OperationKind.RESTORE for op in self.active_operations)


# --- Servers and snapshots ----------------------------------------------------------------------


def fleet_summaries(*, fleet: FleetView, name_filter: str = "") -> list[ServerSummary]:
    """One summary per server (those without snapshots included), sorted by name."""
    if fleet.data is None:
        return []
    by_server: dict[int, ServerSummary] = {
        server.id: ServerSummary(server=server) for server in fleet.data.servers
    }
    for snapshot in fleet.data.snapshots:
        summary = by_server.get(snapshot.server.id)
        if summary is None and not fleet.data.complete:
            continue  # its server has not arrived yet: it is shown with it
        if summary is None:  # a server the servers list did not name
            summary = by_server[snapshot.server.id] = ServerSummary(
                server=provider.Server(
                    id=snapshot.server.id, name=snapshot.server.name, status=None
                )
            )
        summary.snapshots.append(snapshot)
    active_by_server: dict[int, list[Operation]] = defaultdict(list)
    for operation in Operation.objects.active():
        active_by_server[operation.server_id].append(operation)
    needle = name_filter.strip().casefold()
    summaries = []
    for summary in by_server.values():
        if needle and needle not in summary.server.name.casefold():
            continue
        summary.snapshots.sort(key=_newest_first)
        summary.active_operations = active_by_server.get(summary.server.id, [])
        summaries.append(summary)
    return sorted(summaries, key=lambda s: (s.server.name.casefold(), s.server.id))


def _newest_first(snapshot: provider.Snapshot) -> tuple[float, int]:
    created = snapshot.created_at.timestamp() if snapshot.created_at else 0.0
    return (-created, -snapshot.id)


def _summary_in(fleet: FleetView, server_id: int) -> ServerSummary | None:
    for summary in fleet_summaries(fleet=fleet):
        if summary.server.id == server_id:
            return summary
    return None


def _snapshot_in(fleet: FleetView, snapshot_id: int) -> provider.Snapshot | None:
    if fleet.data is None:
        return None
    return next((s for s in fleet.data.snapshots if s.id == snapshot_id), None)


def _find_with_recheck[T](
    fleet: FleetView | None, find: Callable[[FleetView], T | None]
) -> tuple[FleetView, T | None]:
    """Look in the stored lists; when the item is missing from data old enough to be missing
    things, read them again once. Raises ``FleetUnavailable`` when there is no data at all."""
    fleet = fleet or fleet_current()
    if fleet.data is None:
        raise FleetUnavailable(fleet)
    found = find(fleet)
    if found is None:
        fleet = fleet_recheck(fleet)
        found = find(fleet)
    return fleet, found


def server_get(
    *, server_id: int, fleet: FleetView | None = None, refresh: bool = True
) -> tuple[FleetView, ServerSummary]:
    """A server from the stored lists, and the fleet it was found in. Missing from lists that
    are still being read, or old enough to be missing it, it is asked for at the provider
    (its own lists only: two calls side by side).

    Raises ``FleetUnavailable`` when there is no provider data to show, ``NotFound`` when the
    provider does not know the server. ``refresh=False`` leaves stale lists to the caller.
    """
    fleet = fleet or fleet_current(refresh=refresh)
    summary = _summary_in(fleet, server_id) if fleet.data else None
    old = fleet.age is not None and fleet.age > timedelta(
        seconds=settings.VPS_REFRESH_ON_MISS_SECONDS
    )
    if summary is None and (fleet.loading or old):
        try:
            fleet = fleet_server_read(server_id)
        except provider.ProviderNotFound as exc:
            raise NotFound(_not_known(server_id)) from exc
        except provider.ProviderError as exc:
            if fleet.data is None:
                raise FleetUnavailable(
                    FleetView(data=None, problem=provider_problem_record(exc))
                ) from exc
        summary = _summary_in(fleet, server_id)
    if fleet.data is None:
        raise FleetUnavailable(fleet)
    if summary is None:
        raise NotFound(_not_known(server_id))
    return fleet, summary


def _not_known(server_id: int) -> str:
    return _("No server with id %(id)s is known to the provider.") % {"id": server_id}


def snapshot_get(
    *, snapshot_id: int, fleet: FleetView | None = None, refresh: bool = True
) -> tuple[FleetView, ServerSummary, provider.Snapshot]:
    """A snapshot and its server, like ``server_get``."""
    fleet = fleet or fleet_current(refresh=refresh)
    if fleet.loading and _snapshot_in(fleet, snapshot_id) is None:
        # Lists not read yet (or only some servers'): a snapshot id does not say its server,
        # so the lists are read now.
        fleet = fleet_refresh()
    fleet, snapshot = _find_with_recheck(fleet, lambda view: _snapshot_in(view, snapshot_id))
    if snapshot is None:
        raise NotFound(
            _("No snapshot with id %(id)s is known to the provider.") % {"id": snapshot_id}
        )
    fleet, summary = server_get(server_id=snapshot.server.id, fleet=fleet)
    return fleet, summary, snapshot


def fleet_table_version(fleet: FleetView) -> str:
    """Changes whenever anything the fleet table shows changes: the provider data's
    revision, the operations in progress and whether the data is stale."""
    active = list(Operation.objects.active().values_list("pk", "state"))
    revision = fleet.data.revision if fleet.data else "none"
    source = f"{revision}|{active}|{fleet.is_stale}"
    return hashlib.sha256(source.encode()).hexdigest()


# --- Operations ---------------------------------------------------------------------------------


def operations_for_server(*, server_id: int, limit: int = 50) -> QuerySet[Operation]:
    return Operation.objects.filter(server_id=server_id).select_related("requested_by")[:limit]


def operations_active_for_server(*, server_id: int) -> QuerySet[Operation]:
    return Operation.objects.active().filter(server_id=server_id)


def operations_active_exist() -> bool:
    return Operation.objects.active().exists()


def operations_filtered(*, filters: Mapping[str, object]) -> QuerySet[Operation]:
    """Operations for the activity page and its export, newest first. ``filters`` holds the
    valid ones among ``q`` (server, snapshot or person), ``kind``, ``state`` and ``server``."""
    operations = Operation.objects.select_related("requested_by", "workflow_step__workflow")
    if q := filters.get("q"):
        operations = operations.filter(
            Q(server_name__icontains=q)
            | Q(snapshot_name__icontains=q)
            | Q(requested_by_name__icontains=q)
        )
    if kind := filters.get("kind"):
        operations = operations.filter(kind=kind)
    if state := filters.get("state"):
        operations = operations.filter(state=state)
    if server := filters.get("server"):
        operations = operations.filter(server_id=server)
    return operations


def activity_servers(*, fleet: FleetView) -> list[tuple[int, str]]:
    """(id, name) of the servers the activity can be filtered by, sorted by name: every
    server in the stored provider lists, and the servers operations were recorded on that the
    lists do not name (removed since, or no provider data at all) with their recorded name."""
    names = dict(
        sorted(Operation.objects.order_by().values_list("server_id", "server_name").distinct())
    )
    if fleet.data is not None:
        names |= {snapshot.server.id: snapshot.server.name for snapshot in fleet.data.snapshots}
        names |= {server.id: server.name for server in fleet.data.servers}
    return sorted(names.items(), key=lambda item: (item[1].casefold(), item[0]))


def account_events_filtered(*, q: str = "") -> QuerySet[AuditEvent]:
    """Account events (log-ins, lock-outs, two-factor, roles, ...), newest first; ``q``
    matches who acted, the account concerned, the address or the detail."""
    events = AuditEvent.objects.filter(action__startswith=ACCOUNT_EVENT_PREFIX)
    if q:
        events = events.filter(
            Q(actor_name__icontains=q)
            | Q(subject_name__icontains=q)
            | Q(actor_ip__startswith=q)
            | Q(detail__icontains=q)
        )
    return events


def lifecycle_events_filtered(*, q: str = "", server: int | None = None) -> QuerySet[AuditEvent]:
    """Events of snapshots' lives, newest first: schedules and their runs (with skips and
    their reasons), chained workflows, protection, keep-until changes, and everything expiry
    and the schedules did. ``q`` matches who, what, the server or the detail."""
    kinds = Q()
    for prefix in LIFECYCLE_EVENT_PREFIXES:
        kinds |= Q(action__startswith=prefix)
    by_nobody = Q(actor__isnull=True) & (
        Q(actor_name=EXPIRY_ACTOR_NAME) | Q(actor_name__startswith=SCHEDULE_ACTOR_PREFIX)
    )
    events = AuditEvent.objects.filter(kinds | by_nobody)
    if server:
        events = events.filter(server_id=server)
    if q:
        events = events.filter(
            Q(actor_name__icontains=q)
            | Q(subject_name__icontains=q)
            | Q(server_name__icontains=q)
            | Q(snapshot_name__icontains=q)
            | Q(detail__icontains=q)
        )
    return events


def poll_calls_by_server() -> dict[int, int]:
    """What one poll of each server with work costs at the provider: its snapshot list for
    creates and deletes, its state for restores."""
    kinds: dict[int, set[str]] = defaultdict(set)
    for server_id, kind in Operation.objects.active().values_list("server_id", "kind"):
        kinds[server_id].add(kind)
    return {
        server_id: int(bool(found - {OperationKind.RESTORE})) + int(OperationKind.RESTORE in found)
        for server_id, found in kinds.items()
    }


def servers_due_for_poll(*, now: datetime, period: float | None = None) -> set[int]:
    """Servers with an operation in progress that has not been checked within the last poll
    period (a stuck one: within ``VPS_STUCK_POLL_SECONDS``).

    However late or bunched the beat's ticks arrive, a server is due at most once per period.
    """
    period = settings.VPS_POLL_SECONDS if period is None else period
    recent_cutoff = now - timedelta(seconds=period * 0.75)
    stuck_cutoff = now - timedelta(seconds=settings.VPS_STUCK_POLL_SECONDS)
    rows = Operation.objects.active().values_list("server_id", "state", "last_checked_at")
    due: set[int] = set()
    recent: set[int] = set()
    for server_id, state, last_checked_at in rows:
        if last_checked_at is not None and last_checked_at > recent_cutoff:
            recent.add(server_id)
        elif not (
            state == OperationState.STUCK
            and last_checked_at is not None
            and last_checked_at > stuck_cutoff
        ):
            due.add(server_id)
    return due - recent
