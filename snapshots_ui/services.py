"""Actions: every change the dashboard makes at the provider or in its records.

Each action checks its rules first (the name, the snapshot limit, restorability, what else runs
on the server), then claims an ``Operation`` row (database constraints turn a double click or a
second tab into a refusal instead of a second request), calls the provider once, records the
outcome with an audit event in the same transaction and queues the status poll on commit. A
create or restore whose answer was lost is never sent again: the poll reconciles it by name.

A refusal is an ``ActionRefused`` subclass (``refusals``) carrying a sentence for the user.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from snapshots_ui import outcomes, polling, provider, selectors
from snapshots_ui.audit import Actor, audit_record
from snapshots_ui.fleet_cache import fleet_invalidate, fleet_patch
from snapshots_ui.models import Operation, OperationKind, Schedule, SnapshotRecord
from snapshots_ui.records import record_from_operation
from snapshots_ui.refusals import (
    ActionRefused,
    AlreadyRunning,
    NameInvalid,
    NotRestorable,
    OperationNotOpen,
    ProviderRefused,
    ServerBusy,
    SnapshotLimitReached,
    SnapshotProtected,
    provider_error_sentence,
)
from snapshots_ui.selectors import ServerSummary
from snapshots_ui.statuses import OperationState, snapshot_is_restorable

logger = logging.getLogger(__name__)

SNAPSHOT_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
SNAPSHOT_NAME_MAX_LENGTH = 64


@dataclass(frozen=True)
class SnapshotDeleted:
    operation: Operation
    # The provider no longer had it: someone deleted it elsewhere meanwhile.
    already_gone: bool = False
    # The answer was lost: the poll finds out from the provider's list whether it is gone.
    unconfirmed: bool = False


def snapshot_name_error(name: str) -> str | None:
    """The provider's naming rule, checked before any provider call."""
    if not name:
        return _("Enter a name for the snapshot.")
    if len(name) > SNAPSHOT_NAME_MAX_LENGTH:
        return _("Use at most %(max)d characters (this name has %(length)d).") % {
            "max": SNAPSHOT_NAME_MAX_LENGTH,
            "length": len(name),
        }
    if not SNAPSHOT_NAME_RE.fullmatch(name):
        return _("Use only letters A-Z, digits, dashes (-) and underscores (_); no spaces.")
    return None


# --- What every action shares -------------------------------------------------------------------


def _lock_server(server_id: int) -> None:
    """Serialise actions on one server for the rest of the transaction.

    PostgreSQL takes an advisory lock; SQLite's IMMEDIATE transactions already serialise
    every writer.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7001, server_id % 2**31])


def _claim(
    *,
    actor: Actor,
    action: str,
    conflict: Callable[[list[Operation]], ActionRefused | None],
    duplicate: ActionRefused | None = None,
    **fields: object,
) -> Operation:
    """Record the operation before anything is sent, under the server's lock.

    ``conflict`` sees the server's operations in progress and returns a refusal, or None;
    ``duplicate`` is raised when a database constraint finds the same operation running.
    ``action`` names the audit event.
    """
    server_id = int(fields["server_id"])  # type: ignore[call-overload]
    try:
        with transaction.atomic():
            _lock_server(server_id)
            active = list(selectors.operations_active_for_server(server_id=server_id))
            if refusal := conflict(active):
                raise refusal
            operation = Operation.objects.create(
                requested_by=actor.user,
                requested_by_name=actor.name,
                requested_from_ip=actor.ip,
                **fields,
            )
            audit_record(actor=actor, action=action, operation=operation)
    except IntegrityError as exc:
        if duplicate is None:
            raise
        raise duplicate from exc
    return operation


def _snapshot_fields(server: ServerSummary, snapshot: provider.Snapshot) -> dict[str, object]:
    """An operation's fields naming an existing snapshot and its server."""
    return {
        "server_id": server.server.id,
        "server_name": server.server.name,
        "snapshot_id": snapshot.id,
        "snapshot_name": snapshot.name,
        "snapshot_created_at": snapshot.created_at,
    }


def _unconfirmed(
    operation: Operation, *, actor: Actor, action: str, exc: provider.ProviderUnavailable
) -> Operation:
    """The request's answer was lost: keep the operation open for the poll to reconcile."""
    with transaction.atomic():
        operation.provider_message = exc.message
        operation.save(update_fields=["provider_message"])
        audit_record(actor=actor, action=action, operation=operation,
                     detail=exc.message)  # fmt: skip
        polling.server_poll_queue_on_commit(operation.server_id)
    return operation


def _refused(
    operation: Operation, *, actor: Actor, action: str, exc: provider.ProviderError
) -> ProviderRefused:
    """The provider said no: the operation fails with its words; returns what to raise."""
    with transaction.atomic():
        operation.finish(OperationState.FAILED, error=exc.message)
        operation.save()
        audit_record(actor=actor, action=action, operation=operation, detail=exc.message)
    return ProviderRefused(provider_error_sentence(exc), error=exc)


def _started(operation: Operation, *, actor: Actor, action: str, message: str) -> None:
    """The provider accepted the request: record its words and follow it."""
    with transaction.atomic():
        operation.provider_message = message
        operation.needs_reconcile = False
        operation.save()
        audit_record(actor=actor, action=action, operation=operation, detail=message)
        polling.server_poll_queue_on_commit(operation.server_id)


# --- Create -------------------------------------------------------------------------------------


def snapshot_create(
    *,
    actor: Actor,
    server_id: int,
    name: str,
    description: str = "",
    keep_until: datetime | None = None,
    origin: str = "",
    schedule: Schedule | None = None,
) -> Operation:
    """Start a snapshot of a server. Raises an ActionRefused with a sentence for the user.

    ``keep_until``: when the expiry task deletes it (None: kept); ``origin`` and ``schedule``:
    why it exists. They are recorded with the snapshot once the provider names it."""
    if error := snapshot_name_error(name):
        raise NameInvalid(error)
    server = _server_with_a_free_slot(server_id)
    operation = _claim(
        actor=actor,
        action="snapshot.create.requested",
        conflict=lambda active: _restore_running(active, server),
        duplicate=AlreadyRunning(
            _("A snapshot named “%(name)s” is already being created on %(server)s.")
            % {"name": name, "server": server.server.name}
        ),
        kind=OperationKind.CREATE,
        server_id=server_id,
        server_name=server.server.name,
        snapshot_name=name,
        description=description,
        keep_until=keep_until,
        origin=origin,
        schedule=schedule,
        needs_reconcile=True,
    )
    return _send_create(operation, actor=actor)


def _server_with_a_free_slot(server_id: int) -> ServerSummary:
    fleet, server = selectors.server_get(server_id=server_id, refresh=False)
    # From data the provider could not confirm just now the count may be wrong: let the
    # provider decide then.
    if server.at_limit and not fleet.is_stale:
        raise SnapshotLimitReached(
            _(
                "%(server)s already has %(limit)d snapshots, the provider's limit. Delete an old "
                "one first."
            )
            % {"server": server.server.name, "limit": server.limit}
        )
    return server


def _send_create(operation: Operation, *, actor: Actor) -> Operation:
    """Ask the provider for the snapshot the operation stands for, once."""
    server_id = operation.server_id
    try:
        result = provider.get_client().create_snapshot(
            server_id=server_id, name=operation.snapshot_name, description=operation.description
        )
    except provider.ProviderUnavailable as exc:
        # It may have happened: the poll looks for the name instead of sending it again.
        return _unconfirmed(operation, actor=actor, action="snapshot.create.unconfirmed", exc=exc)
    except provider.ProviderError as exc:
        raise _refused(operation, actor=actor, action="snapshot.create.refused", exc=exc) from exc

    operation.snapshot_id = result.snapshot.id
    operation.snapshot_created_at = result.snapshot.created_at
    outcomes.snapshot_progress_apply(operation, result.snapshot)
    _started(operation, actor=actor, action="snapshot.create.started", message=result.message)
    record_from_operation(operation)
    fleet_patch(server_id=server_id, change=lambda fleet: fleet.with_snapshot(result.snapshot))
    return operation


def _restore_running(active: list[Operation], server: ServerSummary) -> ActionRefused | None:
    if any(op.kind == OperationKind.RESTORE for op in active):
        return ServerBusy(
            _("%(server)s is being restored; wait until the restore has finished.")
            % {"server": server.server.name}
        )
    return None


# --- Restore ------------------------------------------------------------------------------------


def restore_busy(server_name: str) -> ServerBusy:
    """The refusal of a restore while something else runs on the server."""
    return ServerBusy(
        _(
            "Another operation is still running on %(server)s; wait until it has finished "
            "before restoring."
        )
        % {"server": server_name}
    )


def snapshot_restore(*, actor: Actor, snapshot_id: int) -> Operation:
    """Restore a server from one of its completed snapshots."""
    _fleet, server, snapshot = selectors.snapshot_get(snapshot_id=snapshot_id, refresh=False)
    if not snapshot_is_restorable(snapshot.status):
        raise NotRestorable(_("Only a completed snapshot can be restored."))
    server_name = server.server.name

    def anything_running(active: list[Operation]) -> ActionRefused | None:
        return restore_busy(server_name) if active else None

    operation = _claim(
        actor=actor,
        action="server.restore.requested",
        conflict=anything_running,
        duplicate=AlreadyRunning(
            _("%(server)s is already being restored.") % {"server": server_name}
        ),
        kind=OperationKind.RESTORE,
        needs_reconcile=True,
        **_snapshot_fields(server, snapshot),
    )
    try:
        result = provider.get_client().restore_snapshot(snapshot_id=snapshot.id)
    except provider.ProviderUnavailable as exc:
        # It may have happened: the poll checks whether the server is restoring.
        return _unconfirmed(operation, actor=actor, action="server.restore.unconfirmed", exc=exc)
    except provider.ProviderError as exc:
        raise _refused(operation, actor=actor, action="server.restore.refused", exc=exc) from exc

    _started(operation, actor=actor, action="server.restore.started", message=result.message)
    server_id = server.server.id
    fleet_patch(
        server_id=server_id,
        change=lambda fleet: fleet.with_server_status(server_id, result.server_status),
    )
    return operation


# --- Delete -------------------------------------------------------------------------------------


def _restoring_from(
    active: list[Operation], server: ServerSummary, snapshot: provider.Snapshot
) -> ActionRefused | None:
    if any(op.kind == OperationKind.RESTORE and op.snapshot_id == snapshot.id for op in active):
        return ServerBusy(
            _("%(server)s is being restored from this snapshot; it cannot be deleted now.")
            % {"server": server.server.name}
        )
    return None


def snapshot_delete(*, actor: Actor, snapshot_id: int) -> SnapshotDeleted:
    """Delete a snapshot permanently. The provider answers at once; only when its answer is
    lost (a timeout) does a poll settle the outcome from the snapshot list."""
    _fleet, server, snapshot = selectors.snapshot_get(snapshot_id=snapshot_id, refresh=False)
    if SnapshotRecord.objects.filter(snapshot_id=snapshot.id, protected=True).exists():
        raise SnapshotProtected(
            _("“%(name)s” is protected; an Admin must lift the protection before it is deleted.")
            % {"name": snapshot.name}
        )
    operation = _claim(
        actor=actor,
        action="snapshot.delete.requested",
        conflict=lambda active: _restoring_from(active, server, snapshot),
        kind=OperationKind.DELETE,
        needs_reconcile=True,
        **_snapshot_fields(server, snapshot),
    )
    already_gone = False
    try:
        provider.get_client().delete_snapshot(snapshot_id=snapshot.id)
    except provider.ProviderNotFound:
        already_gone = True
    except provider.ProviderUnavailable as exc:
        # It may have happened: the poll looks for the snapshot instead of asking again.
        _unconfirmed(operation, actor=actor, action="snapshot.delete.unconfirmed", exc=exc)
        return SnapshotDeleted(operation=operation, unconfirmed=True)
    except provider.ProviderError as exc:
        refused = _refused(operation, actor=actor, action="snapshot.delete.failed", exc=exc)
        fleet_invalidate()
        raise refused from exc

    message = _("The snapshot was already deleted.") if already_gone else _("Snapshot deleted.")
    with transaction.atomic():
        SnapshotRecord.objects.filter(snapshot_id=snapshot.id).delete()
        operation.finish(OperationState.SUCCEEDED)
        operation.provider_message = message
        operation.save()
        audit_record(actor=actor, action="snapshot.delete.done", operation=operation,
                     detail=message)  # fmt: skip
    fleet_patch(
        server_id=server.server.id, change=lambda fleet: fleet.without_snapshot(snapshot.id)
    )
    return SnapshotDeleted(operation=operation, already_gone=already_gone)


# --- Stuck operations ---------------------------------------------------------------------------


def operation_resolve(
    *, actor: Actor, operation: Operation, outcome: OperationState, note: str
) -> None:
    """An Admin closes a stuck operation by hand, after checking at the provider."""
    if not operation.is_active:
        raise OperationNotOpen(_("This operation has already ended."))
    if not operation.is_stuck:
        raise OperationNotOpen(
            _("Only a stuck operation can be closed by hand; this one is still being followed.")
        )
    if outcome not in (OperationState.SUCCEEDED, OperationState.FAILED):
        raise OperationNotOpen(_("Choose whether the operation succeeded or failed."))
    with transaction.atomic():
        operation.finish(outcome, error=note if outcome is OperationState.FAILED else "")
        if outcome is OperationState.SUCCEEDED:
            operation.provider_message = note
        operation.save()
        audit_record(
            actor=actor, action=f"operation.resolved.{outcome}", operation=operation, detail=note
        )
    fleet_invalidate()


def operation_recheck(*, actor: Actor, operation: Operation) -> None:
    """Ask the provider about a stuck operation now instead of at the next slow poll.
    Raises ProviderError when it cannot be asked."""
    audit_record(actor=actor, action="operation.recheck", operation=operation)
    polling.operations_poll_server(server_id=operation.server_id)
