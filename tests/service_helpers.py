"""Helpers shared by the tests of the actions, of following operations and of the stored lists."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from snapshots_ui import provider
from snapshots_ui.models import Operation

WEB = 12345  # web-server-01, running, with completed snapshots


def completed_snapshot(server_id: int = WEB) -> provider.Snapshot:
    return next(
        s
        for s in provider.get_client().list_snapshots(server_id=server_id)
        if s.status == "completed"
    )


def age(operation: Operation, seconds: float) -> None:
    """Pretend the operation started ``seconds`` ago."""
    Operation.objects.filter(pk=operation.pk).update(
        started_at=timezone.now() - timedelta(seconds=seconds)
    )
