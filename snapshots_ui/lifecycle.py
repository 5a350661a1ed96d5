"""A snapshot's life under the 5-slot cap: how long it is kept, protection, replacing the
oldest when a server is full, expiry, and deleting many at once.

Every change goes through the same actions as a person's click (``services``) or through the
workflow engine (``workflows``), and into the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from snapshots_ui import refusals, selectors, services, workflows
from snapshots_ui.audit import Actor, audit_record
from snapshots_ui.models import (
    EXPIRY_ACTOR_NAME,
    SnapshotOrigin,
    SnapshotRecord,
    StepAction,
    Workflow,
    WorkflowKind,
)
from snapshots_ui.provider import Snapshot

# "Keep until" choices in days (0: kept until someone deletes it).
KEEP_CHOICES = (1, 7, 30, 0)
EXPIRY_ACTOR = Actor(user=None, ip=None, label=EXPIRY_ACTOR_NAME)


def keep_until_for(days: int, *, now: datetime | None = None) -> datetime | None:
    return (now or timezone.now()) + timedelta(days=days) if days else None


def _record_for(snapshot_id: int) -> tuple[SnapshotRecord, Snapshot]:
    """The snapshot's record, made (as a manual snapshot) if the dashboard had none."""
    _fleet, server, snapshot = selectors.snapshot_get(snapshot_id=snapshot_id, refresh=False)
    record, _created = SnapshotRecord.objects.get_or_create(
        snapshot_id=snapshot.id,
        defaults={
            "server_id": server.server.id,
            "server_name": server.server.name,
            "name": snapshot.name,
            "created_at": snapshot.created_at or timezone.now(),
        },
    )
    return record, snapshot


def _audit(actor: Actor, action: str, record: SnapshotRecord, detail: str = "") -> None:
    audit_record(
        actor=actor,
        action=action,
        subject=record.name,
        detail=detail,
        server_id=record.server_id,
        server_name=record.server_name,
    )


def snapshot_keep_until_set(*, actor: Actor, snapshot_id: int, days: int) -> SnapshotRecord:
    """Keep the snapshot ``days`` more days from now (0: until someone deletes it)."""
    record, _snapshot = _record_for(snapshot_id)
    with transaction.atomic():
        record.keep_until = keep_until_for(days)
        record.save(update_fields=["keep_until"])
        when = record.keep_until.isoformat() if record.keep_until else "kept"
        _audit(actor, "snapshot.keep_until.changed", record, detail=when)
    return record


def snapshot_protect(*, actor: Actor, snapshot_id: int, protect: bool) -> SnapshotRecord:
    """Protect a snapshot from every deletion (by hand, expiry, rotation), or lift it."""
    record, _snapshot = _record_for(snapshot_id)
    with transaction.atomic():
        record.protected = protect
        record.protected_by_name = actor.name if protect else ""
        record.protected_at = timezone.now() if protect else None
        record.save(update_fields=["protected", "protected_by_name", "protected_at"])
        _audit(actor, "snapshot.protected" if protect else "snapshot.unprotected", record)
    return record


def snapshot_gone_acknowledge(*, actor: Actor, record: SnapshotRecord) -> None:
    """Forget a protected snapshot the provider no longer lists, once someone has seen it."""
    with transaction.atomic():
        _audit(actor, "snapshot.protected.gone.acknowledged", record,
               detail=f"gone since {record.gone_at:%Y-%m-%d %H:%M} UTC")  # fmt: skip
        record.delete()


# --- At 5 of 5: replace the oldest ------------------------------------------------------------


@dataclass(frozen=True)
class Replaceable:
    snapshot: Snapshot
    record: SnapshotRecord | None

    @property
    def origin_label(self) -> str:
        origin = self.record.origin if self.record else SnapshotOrigin.MANUAL
        return SnapshotOrigin(origin).label


def records_by_snapshot(snapshot_ids: list[int]) -> dict[int, SnapshotRecord]:
    return {r.snapshot_id: r for r in SnapshotRecord.objects.filter(snapshot_id__in=snapshot_ids)}


def oldest_replaceable(
    summary: selectors.ServerSummary, *, only_disposable: bool = False
) -> Replaceable | None:
    """The oldest unprotected snapshot of a full server (``only_disposable``: only one that
    was going to go anyway — expiring, a safety snapshot or a schedule's)."""
    records = records_by_snapshot([s.id for s in summary.snapshots])
    candidates = []
    for snapshot in summary.snapshots:
        record = records.get(snapshot.id)
        if record is not None and record.protected:
            continue
        disposable = record is not None and (
            record.keep_until is not None or record.origin != SnapshotOrigin.MANUAL
        )
        if only_disposable and not disposable:
            continue
        candidates.append(Replaceable(snapshot=snapshot, record=record))
    candidates.sort(key=lambda c: (c.snapshot.created_at or timezone.now(), c.snapshot.id))
    return candidates[0] if candidates else None


def oldest_to_replace(summary: selectors.ServerSummary) -> Replaceable:
    """The oldest unprotected snapshot of a full server, the one a create may replace;
    refused when every one is protected."""
    oldest = oldest_replaceable(summary)
    if oldest is None:
        raise refusals.ActionRefused(
            _("Every snapshot of this server is protected: none can be replaced.")
        )
    return oldest


def snapshot_create_replacing(
    *,
    actor: Actor,
    server_id: int,
    name: str,
    description: str,
    keep_until: datetime | None,
    replace_snapshot_id: int,
) -> Workflow:
    """At 5 of 5: delete the named snapshot, then take the new one, as one workflow (if the
    delete fails, nothing is created)."""
    if error := services.snapshot_name_error(name):
        raise refusals.NameInvalid(error)
    _fleet, server = selectors.server_get(server_id=server_id, refresh=False)
    doomed = next((s for s in server.snapshots if s.id == replace_snapshot_id), None)
    if doomed is None:
        raise refusals.ActionRefused(_("The snapshot to replace is no longer on this server."))
    if SnapshotRecord.objects.filter(snapshot_id=doomed.id, protected=True).exists():
        raise refusals.SnapshotProtected(_("“%(name)s” is protected.") % {"name": doomed.name})
    return workflows.workflow_start(
        actor=actor,
        kind=WorkflowKind.REPLACE_OLDEST,
        server_id=server_id,
        server_name=server.server.name,
        steps=[
            workflows.StepPlan(StepAction.DELETE, snapshot_id=doomed.id, snapshot_name=doomed.name),
            workflows.StepPlan(
                StepAction.CREATE,
                snapshot_name=name,
                description=description,
                keep_until=keep_until,
                origin=SnapshotOrigin.MANUAL,
            ),
        ],
    )


# --- Expiry -------------------------------------------------------------------------------------


def expiry_run(*, now: datetime | None = None, limit: int = 20) -> int:
    """Delete snapshots whose time is up, through the normal delete (audited, actor
    "expiry"); never a protected one. At most ``limit`` a run, oldest first."""
    now = now or timezone.now()
    due = SnapshotRecord.objects.filter(
        keep_until__lte=now, protected=False, gone_at__isnull=True
    ).order_by("keep_until")[:limit]
    deleted = 0
    for record in due:
        try:
            services.snapshot_delete(actor=EXPIRY_ACTOR, snapshot_id=record.snapshot_id)
        except selectors.NotFound:
            SnapshotRecord.objects.filter(pk=record.pk).update(gone_at=now)
        except refusals.ActionRefused:
            continue  # busy or refused now: the next run tries again
        else:
            deleted += 1
    return deleted


# --- Many at once -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkResult:
    deleted: list[Snapshot]
    refused: list[tuple[Snapshot, str]]


def snapshots_delete_many(*, actor: Actor, snapshots: list[Snapshot]) -> BulkResult:
    """Each its own audited delete; a refused one (protected, busy, gone) is reported with
    the reason and the others go on."""
    deleted, refused = [], []
    for snapshot in snapshots[: settings.BULK_DELETE_LIMIT]:
        try:
            services.snapshot_delete(actor=actor, snapshot_id=snapshot.id)
        except (refusals.ActionRefused, selectors.NotFound) as exc:
            refused.append((snapshot, exc.message))
        else:
            deleted.append(snapshot)
    return BulkResult(deleted=deleted, refused=refused)
