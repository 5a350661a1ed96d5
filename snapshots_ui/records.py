"""Writing what the dashboard knows about snapshots (``SnapshotRecord``): made when a create's
snapshot gets its id from the provider, marked gone when the provider stops listing it."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from snapshots_ui.models import Operation, OperationKind, SnapshotOrigin, SnapshotRecord


def record_from_operation(operation: Operation) -> SnapshotRecord | None:
    """The record of a create whose snapshot the provider has named (idempotent)."""
    if operation.kind != OperationKind.CREATE or operation.snapshot_id is None:
        return None
    record, _created = SnapshotRecord.objects.update_or_create(
        snapshot_id=operation.snapshot_id,
        defaults={
            "server_id": operation.server_id,
            "server_name": operation.server_name,
            "name": operation.snapshot_name,
            "origin": operation.origin or SnapshotOrigin.MANUAL,
            "schedule_id": operation.schedule_id,
            "keep_until": operation.keep_until,
        },
    )
    return record


def records_seen(*, snapshot_ids: Iterable[int], server_ids: Iterable[int] | None = None) -> None:
    """The provider lists these snapshots (of these servers, or of every server): records of
    others on the same servers are marked gone; those listed again lose the mark."""
    listed = set(snapshot_ids)
    records = SnapshotRecord.objects.all()
    if server_ids is not None:
        records = records.filter(server_id__in=list(server_ids))
    records.filter(snapshot_id__in=listed, gone_at__isnull=False).update(gone_at=None)
    records.filter(gone_at__isnull=True).exclude(snapshot_id__in=listed).update(
        gone_at=timezone.now()
    )
