"""The actions (create, restore, delete, closing or rechecking a stuck operation) and the name
rule, against the simulator over real HTTP (polls are run in-process here)."""

from __future__ import annotations

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from provider_sim import controls
from provider_sim.models import SimServer, SimSnapshot
from snapshots_ui import fleet_cache, polling, refusals, selectors, services
from snapshots_ui.audit import Actor
from snapshots_ui.models import AuditEvent, Operation, OperationKind
from snapshots_ui.statuses import OperationState
from tests.service_helpers import WEB, age, completed_snapshot


@pytest.fixture
def actor(operator) -> Actor:  # type: ignore[no-untyped-def]
    return Actor(user=operator, ip="203.0.113.7")


def posts(endpoint: str = "POST /api/v1/snapshots/") -> int:
    return controls.call_counts()["by_endpoint"].get(endpoint, 0)


# --- Create ---------------------------------------------------------------------------------


def test_create_records_operation_audit_and_queues_poll(
    seeded_simulator, actor, queued_polls, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        operation = services.snapshot_create(
            actor=actor, server_id=WEB, name="pre-upgrade",
            description="before the PHP upgrade",
        )  # fmt: skip

    operation.refresh_from_db()
    assert operation.kind == OperationKind.CREATE
    assert operation.state == OperationState.IN_PROGRESS
    assert operation.snapshot_id == SimSnapshot.objects.get(name="pre-upgrade").pk
    assert operation.requested_from_ip == "203.0.113.7"
    assert "3-10 minutes" in operation.provider_message
    assert not operation.needs_reconcile
    assert list(operation.audit_events.values_list("action", flat=True).order_by("id")) == [
        "snapshot.create.requested",
        "snapshot.create.started",
    ]
    assert queued_polls == [WEB]
    assert posts() == 1


def test_same_create_twice_is_refused_without_a_second_provider_call(
    seeded_simulator, actor, queued_polls
) -> None:
    services.snapshot_create(actor=actor, server_id=WEB, name="twice")

    with pytest.raises(refusals.ActionRefused, match="already being created"):
        services.snapshot_create(actor=actor, server_id=WEB, name="twice")

    assert posts() == 1
    assert Operation.objects.count() == 1


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "../etc", "<b>", "naïve", "ѕnap"])
def test_invalid_names_never_reach_the_provider(seeded_simulator, actor, name: str) -> None:
    with pytest.raises(refusals.ActionRefused):
        services.snapshot_create(actor=actor, server_id=WEB, name=name)

    assert posts() == 0
    assert not Operation.objects.exists()


def test_provider_refusal_fails_the_operation_with_its_words(
    seeded_simulator, actor, queued_polls
) -> None:
    fleet_cache.fleet_current()  # the dashboard has read two snapshots of web-server-01
    server = SimServer.objects.get(pk=WEB)
    for number in range(3):  # someone fills the other slots elsewhere meanwhile
        SimSnapshot.objects.create(
            server=server, name=f"elsewhere-{number}", status="completed", created_at=timezone.now()
        )

    with pytest.raises(refusals.ProviderRefused) as refused:
        services.snapshot_create(actor=actor, server_id=WEB, name="six")

    operation = Operation.objects.get(snapshot_name="six")
    assert operation.state == OperationState.FAILED
    assert "5" in operation.error
    assert "refused" in refused.value.message
    assert refused.value.error.status_code == 400
    assert AuditEvent.objects.filter(action="snapshot.create.refused").count() == 1


def test_create_at_the_limit_is_refused_before_asking_the_provider(
    seeded_simulator, actor, queued_polls
) -> None:
    full = SimServer.objects.get(name="db-replica")

    with pytest.raises(refusals.SnapshotLimitReached, match="already has 5 snapshots"):
        services.snapshot_create(actor=actor, server_id=full.pk, name="six")

    assert posts() == 0
    assert not Operation.objects.exists()


def test_create_whose_answer_was_lost_is_reconciled_by_name(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    settings.VPS_API_TIMEOUT = (2, 0.5)
    controls.add_fault(method="POST", timeout_seconds=2, times=1)  # done, but answered late

    operation = services.snapshot_create(actor=actor, server_id=WEB, name="late-answer")

    assert operation.needs_reconcile
    assert operation.snapshot_id is None
    assert operation.state == OperationState.IN_PROGRESS
    settings.VPS_API_TIMEOUT = (2, 5)
    polling.operations_poll_server(server_id=WEB)
    operation.refresh_from_db()
    assert operation.snapshot_id == SimSnapshot.objects.get(name="late-answer").pk
    assert not operation.needs_reconcile
    assert posts() == 1  # never sent again


def test_create_that_never_reached_the_provider_fails_after_the_grace_period(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    controls.add_fault(method="POST", status=503, times=1)
    operation = services.snapshot_create(actor=actor, server_id=WEB, name="lost")
    polling.operations_poll_server(server_id=WEB)
    operation.refresh_from_db()
    assert operation.state == OperationState.IN_PROGRESS  # still within the grace period

    age(operation, settings.VPS_RECONCILE_GRACE_SECONDS + 1)
    polling.operations_poll_server(server_id=WEB)

    operation.refresh_from_db()
    assert operation.state == OperationState.FAILED
    assert "did not reach it" in operation.error


def test_create_is_refused_while_the_server_is_being_restored(
    seeded_simulator, actor, queued_polls
) -> None:
    services.snapshot_restore(actor=actor, snapshot_id=completed_snapshot().id)

    with pytest.raises(refusals.ActionRefused, match="being restored"):
        services.snapshot_create(actor=actor, server_id=WEB, name="during-restore")
    assert posts() == 0


# --- Restore --------------------------------------------------------------------------------


def test_second_restore_of_a_server_is_refused(seeded_simulator, actor, queued_polls) -> None:
    snapshot = completed_snapshot()
    services.snapshot_restore(actor=actor, snapshot_id=snapshot.id)

    with pytest.raises(refusals.ActionRefused, match="still running"):
        services.snapshot_restore(actor=actor, snapshot_id=snapshot.id)
    assert posts("POST /api/v1/snapshots/{id}/restore/") == 1


# --- Delete ---------------------------------------------------------------------------------


def test_delete_removes_the_snapshot_and_records_it(seeded_simulator, actor) -> None:
    snapshot = completed_snapshot()

    deleted = services.snapshot_delete(actor=actor, snapshot_id=snapshot.id)

    assert deleted.operation.state == OperationState.SUCCEEDED
    assert not deleted.already_gone
    assert not SimSnapshot.objects.filter(pk=snapshot.id).exists()
    assert AuditEvent.objects.filter(
        operation=deleted.operation, action="snapshot.delete.done"
    ).exists()


def test_deleting_a_snapshot_deleted_elsewhere_meanwhile_says_so(seeded_simulator, actor) -> None:
    snapshot = completed_snapshot()
    fleet_cache.fleet_current()  # the dashboard has read it
    SimSnapshot.objects.filter(pk=snapshot.id).delete()  # someone deletes it at the provider

    deleted = services.snapshot_delete(actor=actor, snapshot_id=snapshot.id)

    assert deleted.already_gone
    assert deleted.operation.state == OperationState.SUCCEEDED
    assert deleted.operation.provider_message == "The snapshot was already deleted."


def test_deleting_a_snapshot_twice_finds_it_gone_without_asking_the_provider(
    seeded_simulator, actor
) -> None:
    snapshot = completed_snapshot()
    services.snapshot_delete(actor=actor, snapshot_id=snapshot.id)
    controls.reset_call_counts()

    with pytest.raises(selectors.NotFound, match=f"No snapshot with id {snapshot.id}"):
        services.snapshot_delete(actor=actor, snapshot_id=snapshot.id)

    assert posts("DELETE /api/v1/snapshots/{id}/") == 0


# --- The name rule --------------------------------------------------------------------------

ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
VALID_NAME = st.text(alphabet=st.sampled_from(ALPHABET), min_size=1, max_size=64)


@given(VALID_NAME)
def test_every_name_of_the_providers_alphabet_is_accepted(name: str) -> None:
    assert services.snapshot_name_error(name) is None


@given(VALID_NAME, st.characters().filter(lambda c: c not in ALPHABET), st.data())
def test_any_other_character_is_refused(name: str, intruder: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(min_value=0, max_value=len(name)))

    assert services.snapshot_name_error(name[:position] + intruder + name[position:]) is not None


@given(st.text(alphabet=st.sampled_from(ALPHABET), min_size=65, max_size=300))
def test_names_longer_than_64_are_refused(name: str) -> None:
    assert "at most 64" in (services.snapshot_name_error(name) or "")


# --- Closing a stuck operation by hand ------------------------------------------------------


def test_admin_closes_a_stuck_operation_and_the_decision_is_audited(
    seeded_simulator, admin_user, queued_polls
) -> None:
    admin = Actor(user=admin_user, ip="192.0.2.1")
    operation = services.snapshot_create(actor=admin, server_id=WEB, name="hung")
    Operation.objects.filter(pk=operation.pk).update(state=OperationState.STUCK)
    operation.refresh_from_db()

    services.operation_resolve(
        actor=admin, operation=operation, outcome=OperationState.FAILED,
        note="Provider support says the job was lost.",
    )  # fmt: skip

    operation.refresh_from_db()
    assert operation.state == OperationState.FAILED
    assert operation.error == "Provider support says the job was lost."
    event = AuditEvent.objects.get(action="operation.resolved.failed")
    assert (event.actor, event.actor_ip) == (admin_user, "192.0.2.1")
    with pytest.raises(refusals.ActionRefused, match="already ended"):
        services.operation_resolve(
            actor=admin, operation=operation, outcome=OperationState.SUCCEEDED, note=""
        )


def test_recheck_asks_the_provider_now(
    seeded_simulator, admin_user, queued_polls, settings
) -> None:
    admin = Actor(user=admin_user, ip=None)
    settings.VPS_SIM_CREATE_SECONDS = 0
    operation = services.snapshot_create(actor=admin, server_id=WEB, name="recheck-me")

    services.operation_recheck(actor=admin, operation=operation)

    operation.refresh_from_db()
    assert operation.state == OperationState.SUCCEEDED
    assert AuditEvent.objects.filter(action="operation.recheck", operation=operation).exists()
