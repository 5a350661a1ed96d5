"""What the provider's answers mean for each operation in progress.

Pure decisions, made in memory: given what the provider reported (snapshots, server states),
each operation is brought up to date; ``polling`` reads the provider and saves the result.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext as _

from snapshots_ui import provider
from snapshots_ui.models import Operation, OperationKind
from snapshots_ui.statuses import OperationState, Progress, restore_progress, snapshot_progress


def operations_follow(
    operations: list[Operation],
    *,
    snapshots: Iterable[provider.Snapshot],
    servers: dict[int, provider.Server | None],
    now: datetime,
) -> list[Operation]:
    """Apply what the provider reported to each operation in memory; returns the changed ones.

    ``servers`` holds the servers asked about, None for one the provider no longer has.
    """
    by_id: dict[int, provider.Snapshot] = {}
    by_name: dict[tuple[int, str], provider.Snapshot] = {}
    for snapshot in snapshots:
        by_id[snapshot.id] = snapshot
        by_name[(snapshot.server.id, snapshot.name)] = snapshot
    changed: list[Operation] = []
    for operation in operations:
        before = (operation.state, operation.snapshot_id, operation.needs_reconcile)
        if operation.kind == OperationKind.CREATE:
            _follow_create(operation, by_id=by_id, by_name=by_name, now=now)
        elif operation.kind == OperationKind.DELETE:
            _follow_delete(operation, still_there=operation.snapshot_id in by_id, now=now)
        elif operation.kind == OperationKind.RESTORE:
            _follow_restore(
                operation,
                server=servers.get(operation.server_id),
                server_gone=operation.server_id in servers and servers[operation.server_id] is None,
                now=now,
            )
        if operation.is_active and operation.elapsed(now) > operation.stuck_after:
            operation.state = OperationState.STUCK
        if (operation.state, operation.snapshot_id, operation.needs_reconcile) != before:
            changed.append(operation)
    return changed


def snapshot_progress_apply(operation: Operation, snapshot: provider.Snapshot) -> None:
    """End a create whose snapshot the provider reports completed or failed."""
    progress = snapshot_progress(snapshot.status)
    if progress is Progress.DONE:
        operation.finish(OperationState.SUCCEEDED)
    elif progress is Progress.FAILED:
        operation.finish(
            OperationState.FAILED, error=_("The provider reports that the snapshot failed.")
        )


def _reconcile_expired(operation: Operation, now: datetime) -> bool:
    """Whether an unconfirmed request has waited long enough to conclude it never arrived
    (longer than the provider's read timeout)."""
    grace = timedelta(seconds=settings.VPS_RECONCILE_GRACE_SECONDS)
    return now - operation.started_at > grace


def _follow_create(
    operation: Operation,
    *,
    by_id: dict[int, provider.Snapshot],
    by_name: dict[tuple[int, str], provider.Snapshot],
    now: datetime,
) -> None:
    snapshot = (
        by_id.get(operation.snapshot_id)
        if operation.snapshot_id is not None
        else by_name.get((operation.server_id, operation.snapshot_name))
    )
    if snapshot is None:
        if operation.snapshot_id is not None:
            operation.finish(
                OperationState.FAILED, error=_("The snapshot no longer exists at the provider.")
            )
        elif _reconcile_expired(operation, now):
            operation.finish(
                OperationState.FAILED,
                error=_(
                    "The provider never confirmed this snapshot and has none by that name: "
                    "the request did not reach it. Nothing was created; try again."
                ),
            )
        return
    if operation.snapshot_id is None:
        operation.snapshot_id = snapshot.id
        operation.snapshot_created_at = snapshot.created_at
        operation.needs_reconcile = False
    snapshot_progress_apply(operation, snapshot)


def _follow_delete(operation: Operation, *, still_there: bool, now: datetime) -> None:
    """A delete whose answer was lost: gone from the list means it happened."""
    if not still_there:
        operation.finish(OperationState.SUCCEEDED)
        operation.provider_message = _("The snapshot is no longer listed by the provider.")
    elif _reconcile_expired(operation, now):
        operation.finish(
            OperationState.FAILED,
            error=_(
                "The provider never confirmed the delete and still lists the snapshot: the "
                "request did not reach it. Nothing was deleted; try again."
            ),
        )


def _follow_restore(
    operation: Operation,
    *,
    server: provider.Server | None,
    server_gone: bool,
    now: datetime,
) -> None:
    if server_gone:
        operation.finish(
            OperationState.FAILED, error=_("The server no longer exists at the provider.")
        )
        return
    if server is None or server.status is None:
        return  # the provider does not tell server states; nothing to learn here
    progress = restore_progress(server.status)
    if operation.needs_reconcile:
        if progress is Progress.IN_PROGRESS:
            operation.needs_reconcile = False
        elif _reconcile_expired(operation, now):
            operation.finish(
                OperationState.FAILED,
                error=_(
                    "The provider never confirmed this restore and the server is not "
                    "restoring: the request did not reach it. Nothing was changed."
                ),
            )
        return
    if progress is Progress.DONE:
        operation.finish(OperationState.SUCCEEDED)
        operation.provider_message = _("The server is back: %(status)s.") % {
            "status": server.status
        }
    elif progress is Progress.FAILED:
        operation.finish(
            OperationState.FAILED,
            error=_("The provider reports the server as %(status)s after the restore.")
            % {"status": server.status},
        )
