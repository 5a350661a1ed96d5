"""A snapshot's life against the simulator over real HTTP: how long it is kept and expiry,
protection, replacing the oldest at 5 of 5, deleting many, a protected snapshot vanishing.

No worker runs here: the tests poll and run expiry in-process, as the worker's tick would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from provider_sim.models import SimSnapshot
from snapshots_ui import fleet_cache, lifecycle, lifecycle_reads, polling, selectors, services
from snapshots_ui.audit import Actor
from snapshots_ui.models import AuditEvent, Operation, OperationKind, SnapshotRecord
from snapshots_ui.refusals import SnapshotProtected
from snapshots_ui.statuses import OperationState
from tests.views.helpers import DELETE_CALL, NEWEST, OLDER, REPLICA, WEB, provider_calls

FULL = REPLICA  # db-replica: 5 of 5, the oldest is 785


@pytest.fixture
def actor(operator) -> Actor:  # type: ignore[no-untyped-def]
    return Actor(user=operator, ip="198.51.100.9")


def test_a_snapshot_kept_for_a_day_is_deleted_by_expiry_once_its_day_is_over(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 0
    operation = services.snapshot_create(
        actor=actor, server_id=WEB, name="for-one-day", keep_until=lifecycle.keep_until_for(1)
    )
    polling.operations_poll_server(server_id=WEB)
    record = SnapshotRecord.objects.get(snapshot_id=operation.snapshot_id)
    assert record.keep_until is not None
    assert record.keep_until - timezone.now() > timedelta(hours=23)

    assert lifecycle.expiry_run(now=timezone.now()) == 0  # not yet
    deleted = lifecycle.expiry_run(now=timezone.now() + timedelta(days=1, minutes=1))

    assert deleted == 1
    assert not SimSnapshot.objects.filter(pk=operation.snapshot_id).exists()
    expiry = Operation.objects.get(kind=OperationKind.DELETE, snapshot_id=operation.snapshot_id)
    assert expiry.requested_by_name == "expiry"
    assert expiry.state == OperationState.SUCCEEDED
    assert AuditEvent.objects.filter(
        action="snapshot.delete.done", actor_name="expiry", snapshot_id=operation.snapshot_id
    ).exists()


def test_expiry_never_deletes_a_protected_snapshot(seeded_simulator, actor) -> None:
    lifecycle.snapshot_keep_until_set(actor=actor, snapshot_id=OLDER, days=1)
    lifecycle.snapshot_protect(actor=actor, snapshot_id=OLDER, protect=True)

    deleted = lifecycle.expiry_run(now=timezone.now() + timedelta(days=30))

    assert deleted == 0
    assert SimSnapshot.objects.filter(pk=OLDER).exists()
    assert provider_calls(DELETE_CALL) == 0


def test_nobody_deletes_a_protected_snapshot_and_is_told_why(
    seeded_simulator, actor, admin_user
) -> None:
    lifecycle.snapshot_protect(actor=actor, snapshot_id=NEWEST, protect=True)

    with pytest.raises(SnapshotProtected, match="an Admin must lift the protection"):
        services.snapshot_delete(actor=Actor(user=admin_user, ip=None), snapshot_id=NEWEST)

    assert SimSnapshot.objects.filter(pk=NEWEST).exists()
    assert provider_calls(DELETE_CALL) == 0
    events = AuditEvent.objects.filter(action="snapshot.protected", server_id=WEB)
    assert [(e.actor_name, e.subject_name) for e in events] == [("omar", "pre-migration-snapshot")]


def test_lifting_the_protection_lets_it_be_deleted_again(seeded_simulator, actor) -> None:
    lifecycle.snapshot_protect(actor=actor, snapshot_id=NEWEST, protect=True)
    lifecycle.snapshot_protect(actor=actor, snapshot_id=NEWEST, protect=False)

    services.snapshot_delete(actor=actor, snapshot_id=NEWEST)

    assert not SimSnapshot.objects.filter(pk=NEWEST).exists()
    assert AuditEvent.objects.filter(action="snapshot.unprotected", server_id=WEB).count() == 1


def test_the_snapshot_to_replace_at_five_of_five_is_the_oldest_unprotected_one(
    seeded_simulator, actor
) -> None:
    _fleet, summary = selectors.server_get(server_id=FULL)
    assert lifecycle.oldest_replaceable(summary).snapshot.id == 785

    lifecycle.snapshot_protect(actor=actor, snapshot_id=785, protect=True)

    assert lifecycle.oldest_replaceable(summary).snapshot.id == 786


def test_only_disposable_snapshots_are_offered_when_asked_for(seeded_simulator, actor) -> None:
    _fleet, summary = selectors.server_get(server_id=FULL)
    assert lifecycle.oldest_replaceable(summary, only_disposable=True) is None  # all manual

    lifecycle.snapshot_keep_until_set(actor=actor, snapshot_id=792, days=7)

    assert lifecycle.oldest_replaceable(summary, only_disposable=True).snapshot.id == 792


def test_deleting_many_makes_one_operation_each_and_leaves_the_protected_one(
    seeded_simulator, actor
) -> None:
    lifecycle.snapshot_protect(actor=actor, snapshot_id=786, protect=True)
    fleet = fleet_cache.fleet_current()
    chosen = [s for s in fleet.data.snapshots if s.id in (785, 786, 788)]

    result = lifecycle.snapshots_delete_many(actor=actor, snapshots=chosen)

    assert sorted(s.id for s in result.deleted) == [785, 788]
    assert [(s.id, "protected" in reason) for s, reason in result.refused] == [(786, True)]
    assert sorted(SimSnapshot.objects.filter(server_id=FULL).values_list("pk", flat=True)) == [
        786, 792, 796
    ]  # fmt: skip
    operations = Operation.objects.filter(kind=OperationKind.DELETE).order_by("snapshot_id")
    assert [(op.snapshot_id, op.state) for op in operations] == [
        (785, OperationState.SUCCEEDED), (788, OperationState.SUCCEEDED)
    ]  # fmt: skip


def test_a_protected_snapshot_that_vanishes_at_the_provider_is_reported_until_acknowledged(
    seeded_simulator, actor, admin_user
) -> None:
    lifecycle.snapshot_protect(actor=actor, snapshot_id=OLDER, protect=True)
    SimSnapshot.objects.filter(pk=OLDER).delete()  # gone at the provider, not through us

    fleet_cache.fleet_server_read(WEB)

    gone = lifecycle_reads.protected_gone(WEB)
    assert [record.snapshot_id for record in gone] == [OLDER]
    lifecycle.snapshot_gone_acknowledge(actor=Actor(user=admin_user, ip=None), record=gone[0])
    assert lifecycle_reads.protected_gone(WEB) == []
    assert AuditEvent.objects.filter(
        action="snapshot.protected.gone.acknowledged", server_id=WEB
    ).exists()


def test_changing_how_long_a_snapshot_is_kept_is_recorded(seeded_simulator, actor) -> None:
    record = lifecycle.snapshot_keep_until_set(actor=actor, snapshot_id=NEWEST, days=30)
    assert timedelta(days=29) < record.keep_until - timezone.now() <= timedelta(days=30)

    record = lifecycle.snapshot_keep_until_set(actor=actor, snapshot_id=NEWEST, days=0)

    assert record.keep_until is None
    details = AuditEvent.objects.filter(action="snapshot.keep_until.changed").values_list(
        "detail", flat=True
    )
    assert sorted(details)[-1] == "kept"
