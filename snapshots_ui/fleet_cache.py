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
import contextvars
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from snapshots_ui import provider
from snapshots_ui.fleet_data import (
    FleetData,
    FleetUnavailable,
    FleetView,
    ProviderProblem,
    refresh_period,
)
from snapshots_ui.fleet_reader import FleetReader, Reading, server_lists_read
from snapshots_ui.provider import budget
from snapshots_ui.records import records_seen

__all__ = ["FleetData", "FleetUnavailable", "FleetView", "ProviderProblem"]

logger = logging.getLogger(__name__)

FLEET_KEY = "fleet:v1"
_FRESH_KEY = "fleet:v1:fresh"
_INVALID_KEY = "fleet:v1:invalid"
_REFRESH_LOCK = "fleet:v1:refreshing"
_WRITE_LOCK = "fleet:v1:writing"
# Changes with every store: a process keeps the lists it last read while this stays the same.
_VERSION_KEY = "fleet:v1:version"
_PROBLEM_KEY = "provider:problem"


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

    The two lists are read side by side, a page of each at a time, so a refresh takes as long
    as the longer list rather than both one after the other.
    """
    reading = FleetReader().read_all()
    return _data_of(reading)


def _data_of(reading: Reading) -> FleetData:
    return FleetData(
        servers=reading.servers,
        snapshots=reading.snapshots,
        fetched_at=timezone.now(),
        pages=reading.pages_read,
        complete=reading.complete,
        pages_expected=reading.pages_expected,
    )


def fleet_store(data: FleetData) -> FleetData:
    """Keep freshly read lists as the fleet every page is served from; returns them as
    stored."""
    with _write_lock():
        stored = _write(data)
    if data.complete:
        records_seen(snapshot_ids=[snapshot.id for snapshot in data.snapshots])
    cache.set(_FRESH_KEY, True, timeout=refresh_period(data.pages))
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


def fleet_refresh(*, patient: bool = False) -> FleetView:
    """Ask the provider now; on failure keep serving the last known data with the reason.

    ``patient``: nobody waits for this reading, so its calls may wait for budget slots as long
    as the refresh lock lives (it is kept alive page by page).
    """
    previous: FleetData | None = cache.get(FLEET_KEY)
    try:
        with budget.patient(max_wait=_lock_timeout()) if patient else contextlib.nullcontext():
            data = _data_of(FleetReader().read_all(on_step=_keep_lock))
    except provider.ProviderError as exc:
        logger.warning("fleet refresh failed: %s", exc.message)
        problem = provider_problem_record(exc)
        # Do not hammer a failing provider: try again after a short pause.
        cache.set(_FRESH_KEY, True, timeout=min(5, settings.VPS_CACHE_SECONDS))
        return FleetView(data=previous, problem=problem)
    return FleetView(data=fleet_store(data))


def _keep_lock(reading: Reading) -> None:
    cache.touch(_REFRESH_LOCK, timeout=_lock_timeout())


def _refresh_holding_the_lock() -> None:
    try:
        fleet_refresh(patient=True)
    except Exception:
        logger.exception("background fleet refresh failed")
    finally:
        cache.delete(_REFRESH_LOCK)


def _lock_timeout() -> float:
    """How long the refresh lock lives without news: a few reads of one page."""
    return settings.VPS_API_TIMEOUT[1] * 3 + 10


def _write_partial(reading: Reading) -> FleetData:
    """Store what a first reading has so far, for pages to show while it goes on."""
    _keep_lock(reading)  # the reader is alive
    with _write_lock():
        return _write(_data_of(reading))


def _read_on_holding_the_lock(reader: FleetReader) -> None:
    """Finish a first reading in the background, storing each step as it arrives. Its calls
    keep the class of the page that started it and wait for budget slots as long as needed."""
    try:
        with budget.patient(max_wait=_lock_timeout()):
            fleet_store(_data_of(reader.read_all(on_step=_write_partial)))
    except provider.ProviderError as exc:
        logger.warning("reading the lists failed: %s", exc.message)
        provider_problem_record(exc)
    except Exception:
        logger.exception("reading the lists failed")
    finally:
        cache.delete(_REFRESH_LOCK)


def _first_read_holding_the_lock() -> FleetView:
    """No lists at all yet: read one page of each now (side by side, so the page waits for
    one provider page), and the rest in the background."""
    reader = FleetReader()
    try:
        reading = reader.step()
    except provider.ProviderError as exc:
        cache.delete(_REFRESH_LOCK)
        logger.warning("reading the lists failed: %s", exc.message)
        problem = provider_problem_record(exc)
        cache.set(_FRESH_KEY, True, timeout=min(5, settings.VPS_CACHE_SECONDS))
        return FleetView(data=None, problem=problem)
    if reading.complete:
        cache.delete(_REFRESH_LOCK)
        return FleetView(data=fleet_store(_data_of(reading)))
    partial = _write_partial(reading)
    context = contextvars.copy_context()
    threading.Thread(
        target=context.run, args=(_read_on_holding_the_lock, reader), daemon=True
    ).start()
    return FleetView(data=partial)


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


# Lists that take at most this many pages (one of each) may be read again while a page waits.
_INLINE_PAGES = 2


def fleet_current(*, refresh: bool = True) -> FleetView:
    """The fleet as last read from the provider. No page waits for more than one provider page.

    - No lists yet: one page of each is read now, the rest in the background; the view holds
      what has arrived (``loading``) and pages show it growing.
    - Lists older than their refresh period: served as they are while one background thread
      reads them again (with ``refresh=False`` it is left to the caller, e.g. a server page
      that reads its own server's lists).
    - After ``fleet_invalidate``: lists of one page each are read again at once; larger ones
      in the background.
    """
    found = cache.get_many([_VERSION_KEY, _FRESH_KEY, _INVALID_KEY, _PROBLEM_KEY])
    data = _stored(found.get(_VERSION_KEY))
    problem = found.get(_PROBLEM_KEY)
    view = FleetView(data=data, problem=problem)
    if data is not None and data.complete and found.get(_FRESH_KEY):
        return view
    if data is None or not data.complete:
        if not refresh:
            return view  # e.g. a server page: it reads its own server's lists instead
        if cache.add(_REFRESH_LOCK, True, timeout=_lock_timeout()):
            if data is None and not found.get(_FRESH_KEY):
                return _first_read_holding_the_lock()
            if data is None:  # the provider failed moments ago: wait before asking again
                cache.delete(_REFRESH_LOCK)
            else:  # a reading that stopped half-way (its process ended): start over
                threading.Thread(
                    target=_read_on_holding_the_lock, args=(FleetReader(),), daemon=True
                ).start()
        return view
    small = data.pages <= _INLINE_PAGES
    if found.get(_INVALID_KEY) and small:
        if not cache.add(_REFRESH_LOCK, True, timeout=_lock_timeout()):
            return view  # being read again right now
        try:
            if cache.get(_FRESH_KEY) and not cache.get(_INVALID_KEY):
                return FleetView(data=cache.get(FLEET_KEY), problem=problem)  # refreshed meanwhile
            return fleet_refresh()
        finally:
            cache.delete(_REFRESH_LOCK)
    if (refresh or found.get(_INVALID_KEY)) and cache.add(
        _REFRESH_LOCK, True, timeout=_lock_timeout()
    ):
        if cache.get(_FRESH_KEY) and not cache.get(_INVALID_KEY):  # a refresh finished since
            cache.delete(_REFRESH_LOCK)
        else:
            threading.Thread(target=_refresh_holding_the_lock, daemon=True).start()
    return view


def fleet_pages() -> int:
    """Pages the last whole reading of the lists took (0: not read yet)."""
    data = _stored(cache.get(_VERSION_KEY))
    return data.pages if data is not None and data.complete else 0


def fleet_stored_age() -> float | None:
    """Seconds since the stored lists were read whole (None: never)."""
    data = _stored(cache.get(_VERSION_KEY))
    if data is None:
        return None
    return (timezone.now() - data.fetched_at).total_seconds()


def fleet_server_read(server_id: int) -> FleetView:
    """Read one server's lists now (two calls side by side) and put them into the stored
    lists; raises ProviderNotFound when the provider does not know the server, and other
    ProviderErrors."""
    server, snapshots = server_lists_read(server_id)
    records_seen(snapshot_ids=[s.id for s in snapshots], server_ids=[server_id])
    with _write_lock():
        data: FleetData | None = cache.get(FLEET_KEY)
        if data is None:
            data = FleetData(servers=(), snapshots=(), fetched_at=timezone.now(), complete=False)
        stored = _write(data.with_server(server).with_server_snapshots(server_id, snapshots))
    cache.set(_server_fresh_key(server_id), True, timeout=settings.VPS_CACHE_SECONDS)
    return FleetView(data=stored, problem=provider_problem_current())


def _server_fresh_key(server_id: int) -> str:
    return f"fleet:v1:server-fresh:{server_id}"


def fleet_server_refresh_soon(view: FleetView, server_id: int) -> None:
    """A server page with lists older than their period: read that server's lists again in
    the background (not the whole fleet's)."""
    if view.data is None or cache.get(_FRESH_KEY) or cache.get(_server_fresh_key(server_id)):
        return
    if not cache.add(_server_fresh_key(server_id), True, timeout=settings.VPS_CACHE_SECONDS):
        return

    def read() -> None:
        try:
            fleet_server_read(server_id)
        except provider.ProviderError as exc:
            logger.warning("reading server %s failed: %s", server_id, exc.message)
        except Exception:
            logger.exception("reading server %s failed", server_id)

    threading.Thread(target=read, daemon=True).start()


def fleet_recheck(view: FleetView) -> FleetView:
    """The same data, or fresher data when what we have is old enough to be missing
    something: a server or snapshot added at the provider since it was read."""
    if view.age is not None and view.age > timedelta(seconds=settings.VPS_REFRESH_ON_MISS_SECONDS):
        fleet_invalidate()
        return fleet_current()
    return view
