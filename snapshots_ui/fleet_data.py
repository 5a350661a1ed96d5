"""The shapes of the stored provider lists: the data, a page's view of it, the provider's
last problem. ``fleet_cache`` stores and reads them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from snapshots_ui import provider
from snapshots_ui.provider import budget


@dataclass(frozen=True)
class FleetData:
    """Everything the provider told us in one refresh, brought up to date since."""

    servers: tuple[provider.Server, ...]
    snapshots: tuple[provider.Snapshot, ...]
    fetched_at: datetime
    # A new one each time the lists are stored, whether read whole or brought up to date.
    revision: str = ""
    # Pages the last whole reading took (both lists): what reading them again costs.
    pages: int = 0
    # False while the first reading is still going on: what has arrived so far.
    complete: bool = True
    pages_expected: int | None = None

    def knows_server(self, server_id: int) -> bool:
        return any(server.id == server_id for server in self.servers)

    def server(self, server_id: int) -> provider.Server:
        return next(server for server in self.servers if server.id == server_id)

    def with_server(self, server: provider.Server) -> FleetData:
        """The server replaced (or, when new to these lists, added)."""
        others = tuple(s for s in self.servers if s.id != server.id)
        if len(others) == len(self.servers):
            return replace(self, servers=(*others, server))
        return replace(
            self, servers=tuple(server if s.id == server.id else s for s in self.servers)
        )

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

    @property
    def loading(self) -> bool:
        """The first reading of the lists is still going on (``data`` holds what arrived)."""
        return self.data is None or not self.data.complete

    @property
    def refresh_seconds(self) -> float:
        """How often the lists are read again, as the budget allows for their size."""
        return refresh_period(self.data.pages if self.data else 0)


class FleetUnavailable(Exception):
    """No provider data at all yet, and the provider is not answering: nothing to show."""

    def __init__(self, view: FleetView) -> None:
        super().__init__(view.problem.message if view.problem else "")
        self.view = view


def refresh_period(pages: int) -> float:
    """Seconds between two readings of the whole lists: ``VPS_CACHE_SECONDS``, or longer when
    the lists' pages would otherwise take more than their share of the background budget."""
    return max(settings.VPS_CACHE_SECONDS, budget.refresh_period(pages))
