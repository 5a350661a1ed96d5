"""Reading the provider's server and snapshot lists page by page, the two side by side.

A reader takes one page of each list per step, so that a caller can show what has arrived
and how far the reading is ("37 of ~100 pages") while it goes on. The calls keep the budget
class of the code that started the reading (a page request's calls stay foreground).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from django.utils import timezone

from snapshots_ui import provider
from snapshots_ui.provider import Page


@dataclass
class _List[T]:
    pages: Iterator[Page[T]]
    items: list[T] = field(default_factory=list)
    read: int = 0
    expected: int | None = None
    done: bool = False

    def take(self, page: Page[T] | None) -> None:
        if page is None:
            self.done = True
            self.expected = self.read
            return
        self.items.extend(page.items)
        self.read += 1
        self.expected = page.pages_expected(self.read)
        self.done = not page.has_next


def _next_page[T](pages: Iterator[Page[T]]) -> Page[T] | None:
    return next(pages, None)


@dataclass(frozen=True)
class Reading:
    """What a reader has so far."""

    servers: tuple[provider.Server, ...]
    snapshots: tuple[provider.Snapshot, ...]
    pages_read: int
    # None while the provider has not said how long its lists are.
    pages_expected: int | None
    complete: bool


class FleetReader:
    """Reads both lists; ``step()`` reads the next page of each list not yet finished."""

    def __init__(self) -> None:
        client = provider.get_client()
        self._servers = _List(client.server_pages())
        self._snapshots = _List(client.snapshot_pages())
        self._no_server_list = False
        self.started_at = timezone.now()

    def step(self) -> Reading:
        """One page of each unfinished list, side by side; raises ProviderError."""
        lists = [lst for lst in (self._servers, self._snapshots) if not lst.done]
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures: list[tuple[_List, Future]] = [
                (lst, pool.submit(contextvars.copy_context().run, _next_page, lst.pages))
                for lst in lists
            ]
            for lst, future in futures:
                try:
                    lst.take(future.result())
                except provider.ProviderNotFound:
                    if lst is not self._servers:
                        raise
                    # A provider without /servers/: the servers are those the snapshots name.
                    self._no_server_list = True
                    lst.take(None)
        return self.reading()

    def read_all(self, on_step: Callable[[Reading], None] | None = None) -> Reading:
        """Read to the end; ``on_step`` sees each intermediate reading."""
        reading = self.reading()
        while not reading.complete:
            reading = self.step()
            if on_step is not None and not reading.complete:
                on_step(reading)
        return reading

    def reading(self) -> Reading:
        complete = self._servers.done and self._snapshots.done
        servers = tuple(self._servers.items)
        if self._no_server_list and complete:
            servers = tuple(provider.servers_seen_in(list(self._snapshots.items)))
        expected = (
            None
            if self._servers.expected is None or self._snapshots.expected is None
            else self._servers.expected + self._snapshots.expected
        )
        return Reading(
            servers=servers,
            snapshots=tuple(self._snapshots.items),
            pages_read=self._servers.read + self._snapshots.read,
            pages_expected=expected,
            complete=complete,
        )


def server_lists_read(server_id: int) -> tuple[provider.Server, list[provider.Snapshot]]:
    """One server and its snapshots (two calls side by side). Raises ProviderNotFound when
    the provider does not know the server."""
    client = provider.get_client()
    with ThreadPoolExecutor(max_workers=1) as pool:
        snapshots = pool.submit(
            contextvars.copy_context().run, client.list_snapshots, server_id=server_id
        )
        server = client.get_server(server_id=server_id)
        return server, [s for s in snapshots.result() if s.server.id == server_id]
