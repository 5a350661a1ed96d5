"""What the simulated provider does: create, restore and delete snapshots, and let time pass.

Timed work is lazy: a create or restore stores when it finishes, and
``operations_advance`` (run at the start of every API request) finishes whatever is due.
"""

import random
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from provider_sim.models import SimServer, SimSnapshot

SNAPSHOT_LIMIT = 5
NOT_FOUND = {"detail": "Not found."}


class ApiError(Exception):
    """An error answer in the provider's shape: an HTTP status and a JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def _bad_request(detail: str) -> ApiError:
    return ApiError(400, {"detail": detail})


def _locked[M: (SimServer, SimSnapshot)](model: type[M], pk: int) -> M:
    """The row, locked for the rest of the transaction; a 404 when there is none."""
    row = model.objects.select_for_update().filter(pk=pk).first()
    if row is None:
        raise ApiError(404, NOT_FOUND)
    return row


def operations_advance(*, now: datetime | None = None) -> None:
    """Finish every create and restore whose due time has passed.

    Reads first and writes only when something is due, so that SQLite serves concurrent
    requests without queueing them for its write lock.
    """
    now = now or timezone.now()
    due_snapshots = SimSnapshot.objects.filter(
        status=SimSnapshot.Status.IN_PROGRESS, complete_at__lte=now
    )
    if due_snapshots.exists():
        due_snapshots.update(
            status=SimSnapshot.Status.COMPLETED, size_mb=F("final_size_mb"), complete_at=None
        )
    due_servers = SimServer.objects.filter(
        status=SimServer.Status.RESTORING, restore_due_at__lte=now
    )
    if due_servers.exists():
        due_servers.update(
            status=F("status_after_restore"), status_after_restore="", restore_due_at=None
        )


def snapshot_size_estimate(*, server: SimServer, name: str) -> int:
    """A plausible, repeatable size: 4-9 % of the server's disk."""
    rng = random.Random(f"{server.pk}:{name}")
    return int(server.disk_gb * 1024 * rng.uniform(0.04, 0.09))


def snapshot_create(*, server_id: int, name: str, description: str) -> SimSnapshot:
    with transaction.atomic():
        server = _locked(SimServer, server_id)
        if server.status == SimServer.Status.RESTORING:
            raise _bad_request("The server is being restored. Try again when the restore is done.")
        if server.snapshots.count() >= SNAPSHOT_LIMIT:
            raise _bad_request(
                f"Snapshot limit reached. A server can have at most {SNAPSHOT_LIMIT} snapshots; "
                "delete an old snapshot first."
            )
        now = timezone.now()
        return SimSnapshot.objects.create(
            server=server,
            name=name,
            description=description,
            status=SimSnapshot.Status.IN_PROGRESS,
            created_at=now,
            complete_at=now + timedelta(seconds=settings.VPS_SIM_CREATE_SECONDS),
            final_size_mb=snapshot_size_estimate(server=server, name=name),
        )


def snapshot_restore(*, snapshot_id: int) -> SimSnapshot:
    """Start restoring the snapshot's server; the returned snapshot carries the updated server.

    The provider stops the server first, so it goes straight to ``restoring`` and afterwards
    returns to ``running`` only if it was running before.
    """
    with transaction.atomic():
        snapshot = SimSnapshot.objects.filter(pk=snapshot_id).first()
        if snapshot is None:
            raise ApiError(404, NOT_FOUND)
        server = SimServer.objects.select_for_update().get(pk=snapshot.server_id)
        if server.status == SimServer.Status.RESTORING:
            raise _bad_request("The server is already being restored.")
        if snapshot.status != SimSnapshot.Status.COMPLETED:
            raise _bad_request("Only a completed snapshot can be restored.")
        server.status_after_restore = (
            SimServer.Status.RUNNING
            if server.status == SimServer.Status.RUNNING
            else SimServer.Status.STOPPED
        )
        server.status = SimServer.Status.RESTORING
        server.restore_due_at = timezone.now() + timedelta(seconds=settings.VPS_SIM_RESTORE_SECONDS)
        server.save(update_fields=["status", "status_after_restore", "restore_due_at"])
        snapshot.server = server
        return snapshot


def snapshot_delete(*, snapshot_id: int) -> None:
    with transaction.atomic():
        snapshot = _locked(SimSnapshot, snapshot_id)
        if snapshot.status == SimSnapshot.Status.IN_PROGRESS:
            raise _bad_request("The snapshot is still being created and cannot be deleted yet.")
        snapshot.delete()
