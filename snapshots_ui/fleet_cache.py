"""The provider's server and snapshot lists as the dashboard stores them, and the provider's
health as last seen.

One owner for the stored lists ("the fleet") in the shared Redis cache:

==========================  =================================================================
``fleet_current()``         what pages show; never waits for the provider unless there is no
                            data yet or something made the data invalid
``fleet_recheck(view)``     the same, read again when it is old enough to be missing things
``fleet_fetch()``           read both lists from the provider now (stores nothing)
``fleet_refresh()``         read them and store them; on failure keep the old ones
``fleet_store(data)``       keep freshly read lists
``fleet_patch(...)``        apply one change the provider just told us about
``fleet_invalidate()``      the next read must ask the provider first
==========================  =================================================================

Many viewers cost one provider refresh per ``VPS_CACHE_SECONDS``: older data is served as it is
while one background thread refreshes it (stale-while-revalidate). Each web process keeps the
lists it last unpickled while their revision is unchanged.

The provider-problem flag (``provider_problem_*``) has one shape, ``ProviderProblem``: the
reason the provider could not be asked last time, shown as a banner until it answers again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from snapshots_ui import provider

logger = logging.getLogger(__name__)

FLEET_KEY = "fleet:v1"
_FRESH_KEY = "fleet:v1:fresh"
_INVALID_KEY = "fleet:v1:invalid"
_REFRESH_LOCK = "fleet:v1:refreshing"
_WRITE_LOCK = "fleet:v1:writing"
# Changes with every store: a process keeps the lists it last read while this stays the same.
_VERSION_KEY = "fleet:v1:version"
_PROBLEM_KEY = "provider:problem"


@dataclass(frozen=True)
class FleetData:
    """Everything the provider told us in one refresh, brought up to date since."""

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

    def with_server_status(self, server_id: int, status: str) -> FleetData:
        return self.with_server(replace(self.server(server_id), status=status))

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
class ProviderProblem:
    """Why the provider could not be asked, last time someone tried."""

    message: str
    # 401/403: nothing will work until someone fixes the token.
    token_rejected: bool
    at: datetime


@dataclass(frozen=True)
class FleetView:
    """Fleet data plus how fresh it is, for a page to render."""

    data: FleetData | None
    # Set when the provider could not be asked just now.
    problem: ProviderProblem | None = None

    @property
    def is_stale(self) -> bool:
        return self.problem is not None

    @property
    def token_rejected(self) -> bool:
        return self.problem is not None and self.problem.token_rejected

    @property
    def age(self) -> timedelta | None:
        return timezone.now() - self.data.fetched_at if self.data else None


class FleetUnavailable(Exception):
    """No provider data at all yet, and the provider is not answering: nothing to show."""

    def __init__(self, view: FleetView) -> None:
        super().__init__(view.problem.message if view.problem else "")
        self.view = view


# --- The provider-problem flag ------------------------------------------------------------------


def provider_problem_record(exc: provider.ProviderError) -> ProviderProblem:
    problem = ProviderProblem(
        message=exc.message,
        token_rejected=isinstance(exc, provider.ProviderUnauthorized),
        at=timezone.now(),
    )
    cache.set(_PROBLEM_KEY, problem, timeout=None)
    return problem


def provider_problem_clear() -> None:
    cache.delete(_PROBLEM_KEY)


def provider_problem_current() -> ProviderProblem | None:
    return cache.get(_PROBLEM_KEY)


# --- Reading from the provider and storing ------------------------------------------------------


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
    with _write_lock():
        stored = _write(data)
    cache.set(_FRESH_KEY, True, timeout=settings.VPS_CACHE_SECONDS)
    cache.delete_many([_INVALID_KEY, _PROBLEM_KEY])
    return stored


def fleet_patch(*, server_id: int, change: Callable[[FleetData], FleetData]) -> None:
    """Apply to the stored lists a change the provider has just told us about (its answer to
    an action, or one server's lists read by a poll), so that the next page shows it without
    reading every list again. Where the lists are missing, already out of date or do not
    know the server, the next read asks the provider instead."""
    with _write_lock() as locked:
        data: FleetData | None = cache.get(FLEET_KEY)
        if (
            locked
            and data is not None
            and data.knows_server(server_id)
            and not cache.get(_INVALID_KEY)
        ):
            _write(change(data))
            return
    fleet_invalidate()


def fleet_invalidate() -> None:
    """Something changed at the provider: the next read asks it before answering."""
    cache.set(_INVALID_KEY, True, timeout=None)
    cache.delete(_FRESH_KEY)


def _write(data: FleetData) -> FleetData:
    data = replace(data, revision=uuid.uuid4().hex)
    cache.set(FLEET_KEY, data, timeout=None)
    cache.set(_VERSION_KEY, data.revision, timeout=None)  # after the data it names
    return data


@contextlib.contextmanager
def _write_lock(wait: float = 2.0) -> Iterator[bool]:
    """Serialise writes of the stored lists (a read-modify-write would lose another's);
    yields whether the lock was had within ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while not (locked := cache.add(_WRITE_LOCK, True, timeout=10)):
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    try:
        yield locked
    finally:
        if locked:
            cache.delete(_WRITE_LOCK)


def fleet_refresh() -> FleetView:
    """Ask the provider now; on failure keep serving the last known data with the reason."""
    previous: FleetData | None = cache.get(FLEET_KEY)
    try:
        data = fleet_fetch()
    except provider.ProviderError as exc:
        logger.warning("fleet refresh failed: %s", exc.message)
        problem = provider_problem_record(exc)
        # Do not hammer a failing provider: try again after a short pause.
        cache.set(_FRESH_KEY, True, timeout=min(5, settings.VPS_CACHE_SECONDS))
        return FleetView(data=previous, problem=problem)
    return FleetView(data=fleet_store(data))


def _refresh_holding_the_lock() -> None:
    try:
        fleet_refresh()
    except Exception:
        logger.exception("background fleet refresh failed")
    finally:
        cache.delete(_REFRESH_LOCK)


# --- Reading what is stored ---------------------------------------------------------------------

# (version, data) of the lists this process read last; replaced whole, so threads may share it.
_process_copy: tuple[str, FleetData] | None = None


def _stored(version: str | None) -> FleetData | None:
    """The stored lists, unpickled once per version per process rather than once per page:
    with a thousand servers that is most of a page's time."""
    global _process_copy
    last = _process_copy
    if version is not None and last is not None and last[0] == version:
        return last[1]
    data: FleetData | None = cache.get(FLEET_KEY)
    if version is not None and data is not None:
        _process_copy = (version, data)
    return data


def fleet_current() -> FleetView:
    """The fleet as last read from the provider; a page never waits for the provider unless
    there is no data yet or an action just changed something.

    Older than the cache period, the data is served as it is while one background thread
    refreshes it. After ``fleet_invalidate`` the next read refreshes first. Only one refresh
    runs at a time; while it runs others serve the previous data (or, with none yet, wait for
    it).
    """
    found = cache.get_many([_VERSION_KEY, _FRESH_KEY, _INVALID_KEY, _PROBLEM_KEY])
    data = _stored(found.get(_VERSION_KEY))
    problem = found.get(_PROBLEM_KEY)
    if data is not None and found.get(_FRESH_KEY):
        return FleetView(data=data, problem=problem)
    lock_timeout = settings.VPS_API_TIMEOUT[1] * 3 + 10
    if data is not None and not found.get(_INVALID_KEY):
        if cache.add(_REFRESH_LOCK, True, timeout=lock_timeout):
            if cache.get(_FRESH_KEY):  # a refresh finished since we looked
                cache.delete(_REFRESH_LOCK)
            else:
                threading.Thread(target=_refresh_holding_the_lock, daemon=True).start()
        return FleetView(data=data, problem=problem)
    if cache.add(_REFRESH_LOCK, True, timeout=lock_timeout):
        try:
            if cache.get(_FRESH_KEY) and not cache.get(_INVALID_KEY):
                return FleetView(data=cache.get(FLEET_KEY), problem=problem)  # refreshed meanwhile
            return fleet_refresh()
        finally:
            cache.delete(_REFRESH_LOCK)
    if data is None:
        deadline = time.monotonic() + settings.VPS_API_TIMEOUT[1]
        while data is None and time.monotonic() < deadline and cache.get(_REFRESH_LOCK):
            time.sleep(0.1)
            data = cache.get(FLEET_KEY)
    return FleetView(data=data, problem=provider_problem_current())


def fleet_recheck(view: FleetView) -> FleetView:
    """The same data, or fresher data when what we have is old enough to be missing
    something: a server or snapshot added at the provider since it was read."""
    if view.age is not None and view.age > timedelta(seconds=settings.VPS_REFRESH_ON_MISS_SECONDS):
        fleet_invalidate()
        return fleet_current()
    return view
