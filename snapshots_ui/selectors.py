"""Reads: what the pages show. Provider data comes through a short-lived shared cache.

Many team members looking at the fleet at once cost one provider refresh per cache period,
not one per page view. When the provider cannot be reached the last data it sent is served
with its age, so pages still render.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet
from django.utils import timezone

from snapshots_ui import provider
from snapshots_ui.models import Operation
from snapshots_ui.statuses import Progress, snapshot_progress

logger = logging.getLogger(__name__)

FLEET_KEY = "fleet:v1"
FLEET_FRESH_KEY = "fleet:v1:fresh"
FLEET_INVALID_KEY = "fleet:v1:invalid"
FLEET_REFRESH_LOCK = "fleet:v1:refreshing"
FLEET_WRITE_LOCK = "fleet:v1:writing"
# Changes with every store: a process keeps the lists it last read while this stays the same.
FLEET_VERSION_KEY = "fleet:v1:version"
PROVIDER_PROBLEM_KEY = "provider:problem"
SNAPSHOT_LIMIT = 5


@dataclass(frozen=True)
class FleetData:
    """Everything the provider told us in one refresh."""

    servers: tuple[provider.Server, ...]
    snapshots: tuple[provider.Snapshot, ...]
    fetched_at: datetime
    # A new one each time the lists are stored, whether read whole or brought up to date.
    revision: str = ""

    def knows_server(self, server_id: int) -> bool:
        return any(server.id == server_id for server in self.servers)

    def server(self, server_id: int) -> provider.Server:
        return next(server for server in self.servers if server.id == server_id)

    def with_server(self, server: provider.Server) -> FleetData:
        servers = tuple(server if s.id == server.id else s for s in self.servers)
        return replace(self, servers=servers)

    def with_server_snapshots(
        self, server_id: int, snapshots: Iterable[provider.Snapshot]
    ) -> FleetData:
        others = tuple(s for s in self.snapshots if s.server.id != server_id)
        return replace(self, snapshots=others + tuple(snapshots))

    def with_snapshot(self, snapshot: provider.Snapshot) -> FleetData:
        others = tuple(s for s in self.snapshots if s.id != snapshot.id)
        return replace(self, snapshots=(*others, snapshot))

    def without_snapshot(self, snapshot_id: int) -> FleetData:
        return replace(self, snapshots=tuple(s for s in self.snapshots if s.id != snapshot_id))


@dataclass(frozen=True)
class FleetView:
    """Fleet data plus how fresh it is, for a page to render."""

    data: FleetData | None
    # Set when the provider could not be asked just now: the user-facing reason.
    problem: str = ""
    token_rejected: bool = False

    @property
    def is_stale(self) -> bool:
        return bool(self.problem)

    @property
    def age(self) -> timedelta | None:
        return timezone.now() - self.data.fetched_at if self.data else None


@dataclass
class ServerSummary:
    server: provider.Server
    snapshots: list[provider.Snapshot] = field(default_factory=list)
    active_operations: list[Operation] = field(default_factory=list)

    @property
    def snapshot_count(self) -> int:
        return len(self.snapshots)

    @property
    def at_limit(self) -> bool:
        return self.snapshot_count >= SNAPSHOT_LIMIT

    @property
    def limit(self) -> int:
        return SNAPSHOT_LIMIT

    @property
    def used_percent(self) -> int:
        return min(100, self.snapshot_count * 100 // SNAPSHOT_LIMIT)

    @property
    def total_size_mb(self) -> int:
        return sum(snapshot.size_mb or 0 for snapshot in self.snapshots)

    @property
    def newest_snapshot_at(self) -> datetime | None:
        dates = [s.created_at for s in self.snapshots if s.created_at is not None]
        return max(dates) if dates else None

    @property
    def completed_snapshots(self) -> list[provider.Snapshot]:
        return [s for s in self.snapshots if snapshot_progress(s.status) is Progress.DONE]


def fleet_fetch() -> FleetData:
    """Read every server and snapshot from the provider; raises ProviderError.

    The two lists are read side by side (each client has its own connection), so a refresh
    takes as long as the longer list rather than both one after the other.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        servers = pool.submit(lambda: provider.get_client().list_servers())
        snapshots = provider.get_client().list_snapshots()
        return FleetData(
            servers=tuple(servers.result()), snapshots=tuple(snapshots), fetched_at=timezone.now()
        )


def fleet_store(data: FleetData) -> FleetData:
    """Keep freshly read lists as the fleet every page is served from; returns them as
    stored."""
    with _fleet_write_lock():
        stored = _store(data)
    cache.set(FLEET_FRESH_KEY, True, timeout=settings.VPS_CACHE_SECONDS)
    cache.delete_many([FLEET_INVALID_KEY, PROVIDER_PROBLEM_KEY])
    return stored


def fleet_update(*, server_id: int, change: Callable[[FleetData], FleetData]) -> None:
    """Apply to the stored lists a change the provider has just told us about (its answer to
    an action, or one server's lists read by a poll), so that the next page shows it without
    reading every list again. Where the lists are missing, already out of date or do not
    know the server, the next read asks the provider instead."""
    with _fleet_write_lock() as locked:
        data: FleetData | None = cache.get(FLEET_KEY)
        if (
            locked
            and data is not None
            and data.knows_server(server_id)
            and not cache.get(FLEET_INVALID_KEY)
        ):
            _store(change(data))
            return
    fleet_invalidate()


def _store(data: FleetData) -> FleetData:
    data = replace(data, revision=uuid.uuid4().hex)
    cache.set(FLEET_KEY, data, timeout=None)
    cache.set(FLEET_VERSION_KEY, data.revision, timeout=None)  # after the data it names
    return data


@contextlib.contextmanager
def _fleet_write_lock(wait: float = 2.0) -> Iterator[bool]:
    """Serialise writes of the stored lists (a read-modify-write would lose another's);
    yields whether the lock was had within ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while not (locked := cache.add(FLEET_WRITE_LOCK, True, timeout=10)):
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    try:
        yield locked
    finally:
        if locked:
            cache.delete(FLEET_WRITE_LOCK)


def fleet_invalidate() -> None:
    """Something changed at the provider: the next read asks it before answering."""
    cache.set(FLEET_INVALID_KEY, True, timeout=None)
    cache.delete(FLEET_FRESH_KEY)


def fleet_refresh() -> FleetView:
    """Ask the provider now; on failure keep serving the last known data with the reason."""
    previous: FleetData | None = cache.get(FLEET_KEY)
    try:
        data = fleet_fetch()
    except provider.ProviderError as exc:
        logger.warning("fleet refresh failed: %s", exc.message)
        token_rejected = isinstance(exc, provider.ProviderUnauthorized)
        cache.set(
            PROVIDER_PROBLEM_KEY,
            {"message": exc.message, "token_rejected": token_rejected, "at": timezone.now()},
            timeout=None,
        )
        # Do not hammer a failing provider: try again after a short pause.
        cache.set(FLEET_FRESH_KEY, True, timeout=min(5, settings.VPS_CACHE_SECONDS))
        return FleetView(data=previous, problem=exc.message, token_rejected=token_rejected)
    return FleetView(data=fleet_store(data))


def _refresh_holding_the_lock() -> None:
    try:
        fleet_refresh()
    except Exception:
        logger.exception("background fleet refresh failed")
    finally:
        cache.delete(FLEET_REFRESH_LOCK)


# (version, data) of the lists this process read last; replaced whole, so threads may share it.
_last_read: tuple[str, FleetData] | None = None


def _fleet_data(version: str | None) -> FleetData | None:
    """The stored lists, unpickled once per version per process rather than once per page:
    with a thousand servers that is most of a page's time."""
    global _last_read
    last = _last_read
    if version is not None and last is not None and last[0] == version:
        return last[1]
    data: FleetData | None = cache.get(FLEET_KEY)
    if version is not None and data is not None:
        _last_read = (version, data)
    return data


def fleet_get() -> FleetView:
    """The fleet as last read from the provider; a page never waits for the provider unless
    there is no data yet or an action just changed something.

    Older than the cache period, the data is served as it is while one background thread
    refreshes it (stale-while-revalidate). After ``fleet_invalidate`` the next read refreshes
    first. Only one refresh runs at a time; while it runs others serve the previous data (or,
    with none yet, wait for it).
    """
    found = cache.get_many(
        [FLEET_VERSION_KEY, FLEET_FRESH_KEY, FLEET_INVALID_KEY, PROVIDER_PROBLEM_KEY]
    )
    data = _fleet_data(found.get(FLEET_VERSION_KEY))
    problem = _problem_fields(found.get(PROVIDER_PROBLEM_KEY))
    if data is not None and found.get(FLEET_FRESH_KEY):
        return FleetView(data=data, **problem)
    lock_timeout = settings.VPS_API_TIMEOUT[1] * 3 + 10
    if data is not None and not found.get(FLEET_INVALID_KEY):
        if cache.add(FLEET_REFRESH_LOCK, True, timeout=lock_timeout):
            if cache.get(FLEET_FRESH_KEY):  # a refresh finished since we looked
                cache.delete(FLEET_REFRESH_LOCK)
            else:
                threading.Thread(target=_refresh_holding_the_lock, daemon=True).start()
        return FleetView(data=data, **problem)
    if cache.add(FLEET_REFRESH_LOCK, True, timeout=lock_timeout):
        try:
            if cache.get(FLEET_FRESH_KEY) and not cache.get(FLEET_INVALID_KEY):
                return FleetView(data=cache.get(FLEET_KEY), **problem)  # refreshed meanwhile
            return fleet_refresh()
        finally:
            cache.delete(FLEET_REFRESH_LOCK)
    if data is None:
        deadline = time.monotonic() + settings.VPS_API_TIMEOUT[1]
        while data is None and time.monotonic() < deadline and cache.get(FLEET_REFRESH_LOCK):
            time.sleep(0.1)
            data = cache.get(FLEET_KEY)
    return FleetView(data=data, **_problem_fields(cache.get(PROVIDER_PROBLEM_KEY)))


def _problem_fields(problem: dict[str, object] | None) -> dict[str, object]:
    if not problem:
        return {}
    return {"problem": problem["message"], "token_rejected": problem["token_rejected"]}


def fleet_summaries(*, fleet: FleetView, name_filter: str = "") -> list[ServerSummary]:
    """One summary per server (those without snapshots included), sorted by name."""
    if fleet.data is None:
        return []
    by_server: dict[int, ServerSummary] = {
        server.id: ServerSummary(server=server) for server in fleet.data.servers
    }
    for snapshot in fleet.data.snapshots:
        summary = by_server.get(snapshot.server.id)
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


def server_summary(*, fleet: FleetView, server_id: int) -> ServerSummary | None:
    for summary in fleet_summaries(fleet=fleet):
        if summary.server.id == server_id:
            return summary
    return None


def _newest_first(snapshot: provider.Snapshot) -> tuple[float, int]:
    created = snapshot.created_at.timestamp() if snapshot.created_at else 0.0
    return (-created, -snapshot.id)


def operations_for_server(*, server_id: int, limit: int = 50) -> QuerySet[Operation]:
    return Operation.objects.filter(server_id=server_id).select_related("requested_by")[:limit]


def operations_active_for_server(*, server_id: int) -> QuerySet[Operation]:
    return Operation.objects.active().filter(server_id=server_id)


def snapshot_find(*, fleet: FleetView, snapshot_id: int) -> provider.Snapshot | None:
    if fleet.data is None:
        return None
    for snapshot in fleet.data.snapshots:
        if snapshot.id == snapshot_id:
            return snapshot
    return None
