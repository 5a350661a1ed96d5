"""Writes: every workflow that changes something at the provider or in our records.

Each workflow claims an ``Operation`` row first (database constraints turn a double click or a
second tab into a clear refusal), then calls the provider once, then records the outcome with
an audit event in the same transaction and queues the status poll on commit. A create or
restore whose answer was lost is never sent again: the poll reconciles it by name.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from snapshots_ui import provider
from snapshots_ui.models import AuditEvent, Operation, OperationKind, OperationState
from snapshots_ui.selectors import (
    PROVIDER_PROBLEM_KEY,
    FleetData,
    fleet_fetch,
    fleet_invalidate,
    fleet_store,
    fleet_update,
)
from snapshots_ui.statuses import Progress, restore_progress, snapshot_progress

logger = logging.getLogger(__name__)

SNAPSHOT_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
SNAPSHOT_NAME_MAX_LENGTH = 64
# How long a create or restore whose answer was lost may stay unconfirmed before the poll
# gives up looking for it; longer than the provider's read timeout.
RECONCILE_GRACE = timedelta(seconds=90)


class ActionRefused(Exception):
    """The action was not sent, or the provider refused it; ``message`` says why."""

    def __init__(self, message: str, *, operation: Operation | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation


@dataclass(frozen=True)
class Actor:
    user: AbstractBaseUser | None
    ip: str | None

    @property
    def name(self) -> str:
        return self.user.get_username() if self.user is not None else "system"


def _audit(*, actor: Actor, action: str, operation: Operation, detail: str = "") -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor.user if actor.user is not None and actor.user.pk else None,
        actor_name=actor.name,
        actor_ip=actor.ip,
        action=action,
        operation=operation,
        server_id=operation.server_id,
        server_name=operation.server_name,
        snapshot_id=operation.snapshot_id,
        snapshot_name=operation.snapshot_name,
        detail=detail,
    )


def _lock_server(server_id: int) -> None:
    """Serialise actions on one server for the rest of the transaction.

    PostgreSQL takes an advisory lock; SQLite's IMMEDIATE transactions already serialise
    every writer.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7001, server_id % 2**31])


def _queue_poll(server_id: int) -> None:
    from snapshots_ui.tasks import dispatch_server_poll

    transaction.on_commit(lambda: dispatch_server_poll(server_id))


def _finish(operation: Operation, state: OperationState, *, error: str = "") -> None:
    operation.state = state
    operation.finished_at = timezone.now()
    if error:
        operation.error = error
    operation.needs_reconcile = False


def _unconfirmed(
    operation: Operation, *, actor: Actor, action: str, exc: provider.ProviderUnavailable
) -> Operation:
    """The request's answer was lost: keep the operation open for the poll to reconcile."""
    with transaction.atomic():
        operation.provider_message = exc.message
        operation.save(update_fields=["provider_message"])
        _audit(actor=actor, action=action, operation=operation, detail=exc.message)
        _queue_poll(operation.server_id)
    return operation


def _refused(
    operation: Operation, *, actor: Actor, action: str, exc: provider.ProviderError
) -> ActionRefused:
    """The provider said no: the operation fails with its words; returns what to raise."""
    with transaction.atomic():
        _finish(operation, OperationState.FAILED, error=exc.message)
        operation.save()
        _audit(actor=actor, action=action, operation=operation, detail=exc.message)
    return ActionRefused(_explain(exc), operation=operation)


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


# --- Create ---------------------------------------------------------------------------------


def snapshot_create(
    *, actor: Actor, server_id: int, server_name: str, name: str, description: str = ""
) -> Operation:
    """Start a snapshot of a server. Raises ActionRefused with a sentence for the user."""
    if error := snapshot_name_error(name):
        raise ActionRefused(error)
    try:
        with transaction.atomic():
            _lock_server(server_id)
            if (
                Operation.objects.active()
                .filter(server_id=server_id, kind=OperationKind.RESTORE)
                .exists()
            ):
                raise ActionRefused(
                    _("%(server)s is being restored; wait until the restore has finished.")
                    % {"server": server_name}
                )
            operation = Operation.objects.create(
                kind=OperationKind.CREATE,
                server_id=server_id,
                server_name=server_name,
                snapshot_name=name,
                description=description,
                requested_by=actor.user,
                requested_by_name=actor.name,
                requested_from_ip=actor.ip,
                needs_reconcile=True,
            )
            _audit(actor=actor, action="snapshot.create.requested", operation=operation)
    except IntegrityError as exc:
        raise ActionRefused(
            _("A snapshot named “%(name)s” is already being created on %(server)s.")
            % {"name": name, "server": server_name}
        ) from exc

    try:
        result = provider.get_client().create_snapshot(
            server_id=server_id, name=name, description=description
        )
    except provider.ProviderUnavailable as exc:
        # It may have happened: the poll looks for the name instead of sending it again.
        return _unconfirmed(operation, actor=actor, action="snapshot.create.unconfirmed", exc=exc)
    except provider.ProviderError as exc:
        raise _refused(operation, actor=actor, action="snapshot.create.refused", exc=exc) from exc

    with transaction.atomic():
        operation.snapshot_id = result.snapshot.id
        operation.snapshot_created_at = result.snapshot.created_at
        operation.provider_message = result.message
        operation.needs_reconcile = False
        _apply_snapshot_progress(operation, result.snapshot)
        operation.save()
        _audit(
            actor=actor, action="snapshot.create.started", operation=operation,
            detail=result.message,
        )  # fmt: skip
        _queue_poll(server_id)
    fleet_update(server_id=server_id, change=lambda fleet: fleet.with_snapshot(result.snapshot))
    return operation


# --- Restore --------------------------------------------------------------------------------


def snapshot_restore(*, actor: Actor, snapshot: provider.Snapshot, server_name: str) -> Operation:
    """Restore a server from one of its completed snapshots."""
    if snapshot_progress(snapshot.status) is not Progress.DONE:
        raise ActionRefused(_("Only a completed snapshot can be restored."))
    server_id = snapshot.server.id
    try:
        with transaction.atomic():
            _lock_server(server_id)
            if Operation.objects.active().filter(server_id=server_id).exists():
                raise ActionRefused(
                    _(
                        "Another operation is still running on %(server)s; wait until it has "
                        "finished before restoring."
                    )
                    % {"server": server_name}
                )
            operation = Operation.objects.create(
                kind=OperationKind.RESTORE,
                server_id=server_id,
                server_name=server_name,
                snapshot_id=snapshot.id,
                snapshot_name=snapshot.name,
                snapshot_created_at=snapshot.created_at,
                requested_by=actor.user,
                requested_by_name=actor.name,
                requested_from_ip=actor.ip,
                needs_reconcile=True,
            )
            _audit(actor=actor, action="server.restore.requested", operation=operation)
    except IntegrityError as exc:
        raise ActionRefused(
            _("%(server)s is already being restored.") % {"server": server_name}
        ) from exc

    try:
        result = provider.get_client().restore_snapshot(snapshot_id=snapshot.id)
    except provider.ProviderUnavailable as exc:
        # It may have happened: the poll checks whether the server is restoring.
        return _unconfirmed(operation, actor=actor, action="server.restore.unconfirmed", exc=exc)
    except provider.ProviderError as exc:
        raise _refused(operation, actor=actor, action="server.restore.refused", exc=exc) from exc

    with transaction.atomic():
        operation.provider_message = result.message
        operation.needs_reconcile = False
        operation.save()
        _audit(
            actor=actor, action="server.restore.started", operation=operation,
            detail=result.message,
        )  # fmt: skip
        _queue_poll(server_id)
    fleet_update(
        server_id=server_id,
        change=lambda fleet: fleet.with_server(
            replace(fleet.server(server_id), status=result.server_status)
        ),
    )
    return operation


# --- Delete ---------------------------------------------------------------------------------


def snapshot_delete(*, actor: Actor, snapshot: provider.Snapshot, server_name: str) -> Operation:
    """Delete a snapshot permanently. The provider answers at once, so no poll is needed."""
    server_id = snapshot.server.id
    with transaction.atomic():
        _lock_server(server_id)
        if (
            Operation.objects.active()
            .filter(server_id=server_id, kind=OperationKind.RESTORE, snapshot_id=snapshot.id)
            .exists()
        ):
            raise ActionRefused(
                _("%(server)s is being restored from this snapshot; it cannot be deleted now.")
                % {"server": server_name}
            )
        operation = Operation.objects.create(
            kind=OperationKind.DELETE,
            server_id=server_id,
            server_name=server_name,
            snapshot_id=snapshot.id,
            snapshot_name=snapshot.name,
            snapshot_created_at=snapshot.created_at,
            requested_by=actor.user,
            requested_by_name=actor.name,
            requested_from_ip=actor.ip,
        )
        _audit(actor=actor, action="snapshot.delete.requested", operation=operation)

    try:
        provider.get_client().delete_snapshot(snapshot_id=snapshot.id)
    except provider.ProviderNotFound:
        outcome, message = OperationState.SUCCEEDED, _("The snapshot was already deleted.")
    except provider.ProviderError as exc:
        refused = _refused(operation, actor=actor, action="snapshot.delete.failed", exc=exc)
        fleet_invalidate()
        raise refused from exc
    else:
        outcome, message = OperationState.SUCCEEDED, _("Snapshot deleted.")

    with transaction.atomic():
        _finish(operation, outcome)
        operation.provider_message = message
        operation.save()
        _audit(actor=actor, action="snapshot.delete.done", operation=operation, detail=message)
    fleet_update(server_id=server_id, change=lambda fleet: fleet.without_snapshot(snapshot.id))
    return operation


# --- Following operations -------------------------------------------------------------------


def _apply_snapshot_progress(operation: Operation, snapshot: provider.Snapshot) -> None:
    progress = snapshot_progress(snapshot.status)
    if progress is Progress.DONE:
        _finish(operation, OperationState.SUCCEEDED)
    elif progress is Progress.FAILED:
        _finish(
            operation,
            OperationState.FAILED,
            error=_("The provider reports that the snapshot failed."),
        )


def operations_poll_server(*, server_id: int) -> list[Operation]:
    """Bring every active operation on one server up to date with one or two provider calls.

    Raises ProviderUnavailable (the caller retries later) and ProviderUnauthorized (the token
    is wrong; retrying will not help until someone fixes it). Returns the operations whose
    state changed.
    """
    operations = list(Operation.objects.active().filter(server_id=server_id))
    if not operations:
        return []
    client = provider.get_client()
    now = timezone.now()
    snapshots: list[provider.Snapshot] | None = None
    if any(op.kind == OperationKind.CREATE for op in operations):
        snapshots = [
            snapshot
            for snapshot in client.list_snapshots(server_id=server_id)
            if snapshot.server.id == server_id
        ]
    servers: dict[int, provider.Server | None] = {}
    if any(op.kind == OperationKind.RESTORE for op in operations):
        servers[server_id] = _server_or_none(client, server_id)
    changed = _follow(operations, snapshots=snapshots or [], servers=servers, now=now)
    if changed:
        # The stored lists take what was just read before the outcome is recorded: a page
        # that reloads when it sees the outcome must find the new lists, never the old ones.
        _fleet_take_server_reading(server_id, snapshots=snapshots, servers=servers)
    _record_poll(operations, changed=changed, now=now)
    return changed


def _fleet_take_server_reading(
    server_id: int,
    *,
    snapshots: list[provider.Snapshot] | None,
    servers: dict[int, provider.Server | None],
) -> None:
    """Put one server's freshly read snapshots and state into the stored lists."""
    if server_id in servers and servers[server_id] is None:
        fleet_invalidate()  # the server is gone: let the next read find out what else is
        return

    def change(fleet: FleetData) -> FleetData:
        if snapshots is not None:
            fleet = fleet.with_server_snapshots(server_id, snapshots)
        server = servers.get(server_id)
        return fleet.with_server(server) if server is not None else fleet

    fleet_update(server_id=server_id, change=change)


def operations_poll_account() -> list[Operation]:
    """Bring every active operation up to date from one reading of the account-wide lists.

    Used instead of per-server polls when many servers have work: the provider's cost is then
    the pages of its snapshot and server lists, however many servers and operations there are.
    The lists read are also stored as the pages' cached fleet. Raises like
    ``operations_poll_server``; returns the operations whose state changed.
    """
    operations = list(Operation.objects.active())
    if not operations:
        return []
    now = timezone.now()
    data = fleet_fetch()
    servers: dict[int, provider.Server | None] = {server.id: server for server in data.servers}
    missing = {op.server_id for op in operations if op.kind == OperationKind.RESTORE} - set(servers)
    if missing:  # gone, or a provider whose list leaves some out: ask for each one
        client = provider.get_client()
        for server_id in missing:
            servers[server_id] = _server_or_none(client, server_id)
    changed = _follow(operations, snapshots=data.snapshots, servers=servers, now=now)
    fleet_store(data)
    _record_poll(operations, changed=changed, now=now)
    return changed


def _server_or_none(client: provider.ProviderClient, server_id: int) -> provider.Server | None:
    """The server, or None when the provider says it no longer exists."""
    try:
        return client.get_server(server_id=server_id)
    except provider.ProviderNotFound:
        return None


def _follow(
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


# What a poll may change; written back only while the operation is active.
_FOLLOWED_FIELDS = (
    "last_checked_at",
    "check_failures",
    "state",
    "finished_at",
    "error",
    "needs_reconcile",
    "snapshot_id",
    "snapshot_created_at",
    "provider_message",
)


def _record_poll(operations: list[Operation], *, changed: list[Operation], now: datetime) -> None:
    """Save one poll's findings: one UPDATE for the unchanged, one per change with its audit
    event. An operation that ended meanwhile (a poll that overlapped, an Admin closing it) is
    left as it is, so no outcome is recorded twice."""
    cache.delete(PROVIDER_PROBLEM_KEY)
    unchanged = [op.pk for op in operations if op not in changed]
    with transaction.atomic():
        Operation.objects.active().filter(pk__in=unchanged).update(
            last_checked_at=now, check_failures=0
        )
        for operation in changed:
            operation.last_checked_at = now
            operation.check_failures = 0
            fields = {name: getattr(operation, name) for name in _FOLLOWED_FIELDS}
            updated = Operation.objects.active().filter(pk=operation.pk).update(**fields)
            if updated:
                _audit(
                    actor=Actor(user=None, ip=None),
                    action=f"operation.{operation.state}",
                    operation=operation,
                    detail=operation.error or operation.provider_message,
                )


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
            _finish(
                operation,
                OperationState.FAILED,
                error=_("The snapshot no longer exists at the provider."),
            )
        elif now - operation.started_at > RECONCILE_GRACE:
            _finish(
                operation,
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
    _apply_snapshot_progress(operation, snapshot)


def _follow_restore(
    operation: Operation,
    *,
    server: provider.Server | None,
    server_gone: bool,
    now: datetime,
) -> None:
    if server_gone:
        _finish(
            operation,
            OperationState.FAILED,
            error=_("The server no longer exists at the provider."),
        )
        return
    if server is None or server.status is None:
        return  # the provider does not tell server states; nothing to learn here
    progress = restore_progress(server.status)
    if operation.needs_reconcile:
        if progress is Progress.IN_PROGRESS:
            operation.needs_reconcile = False
        elif now - operation.started_at > RECONCILE_GRACE:
            _finish(
                operation,
                OperationState.FAILED,
                error=_(
                    "The provider never confirmed this restore and the server is not "
                    "restoring: the request did not reach it. Nothing was changed."
                ),
            )
        return
    if progress is Progress.DONE:
        _finish(operation, OperationState.SUCCEEDED)
        operation.provider_message = _("The server is back: %(status)s.") % {
            "status": server.status
        }
    elif progress is Progress.FAILED:
        _finish(
            operation,
            OperationState.FAILED,
            error=_("The provider reports the server as %(status)s after the restore.")
            % {"status": server.status},
        )


def operation_resolve(
    *, actor: Actor, operation: Operation, outcome: OperationState, note: str
) -> None:
    """An Admin closes a stuck operation by hand, after checking at the provider."""
    if not operation.is_active:
        raise ActionRefused(_("This operation has already ended."))
    if operation.state != OperationState.STUCK:
        raise ActionRefused(
            _("Only a stuck operation can be closed by hand; this one is still being followed.")
        )
    if outcome not in (OperationState.SUCCEEDED, OperationState.FAILED):
        raise ActionRefused(_("Choose whether the operation succeeded or failed."))
    with transaction.atomic():
        _finish(operation, outcome, error=note if outcome is OperationState.FAILED else "")
        if outcome is OperationState.SUCCEEDED:
            operation.provider_message = note
        operation.save()
        _audit(
            actor=actor, action=f"operation.resolved.{outcome}", operation=operation, detail=note
        )
    fleet_invalidate()


def operation_recheck(*, actor: Actor, operation: Operation) -> None:
    """Ask the provider about a stuck operation now instead of at the next slow poll."""
    _audit(actor=actor, action="operation.recheck", operation=operation)
    operations_poll_server(server_id=operation.server_id)


def operations_record_check_failure(*, server_id: int | None, error: str) -> None:
    """Note on each active operation of a server (None: of every server) that the provider
    could not be asked."""
    operations = Operation.objects.active()
    if server_id is not None:
        operations = operations.filter(server_id=server_id)
    operations.update(
        last_checked_at=timezone.now(), error=error, check_failures=F("check_failures") + 1
    )


def _explain(exc: provider.ProviderError) -> str:
    """The provider's words plus what the user can do about it."""
    if isinstance(exc, provider.ProviderUnauthorized):
        return _(
            "The provider rejected the dashboard's API token. Nothing was changed. Ask an "
            "administrator to check the token (VPS_API_TOKEN)."
        )
    if isinstance(exc, provider.ProviderNotFound):
        return _(
            "The provider no longer knows this server or snapshot (it may have been deleted "
            "meanwhile). The list has been refreshed. Provider said: %(words)s"
        ) % {"words": exc.message}
    if isinstance(exc, provider.ProviderUnavailable):
        return _(
            "The provider could not be reached (%(words)s). Nothing was changed; try again "
            "in a minute."
        ) % {"words": exc.message}
    return _("The provider refused: %(words)s") % {"words": exc.message}
