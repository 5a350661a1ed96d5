"""Taking a snapshot: the form, its checks, and the provider's answers."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from provider_sim import controls
from provider_sim.models import SimSnapshot
from provider_sim.server import RunningSimulator
from snapshots_ui.models import AuditEvent, Operation, OperationKind, SnapshotRecord
from snapshots_ui.statuses import OperationState
from tests.views.helpers import (
    CREATE_CALL,
    NEWEST,
    REPLICA,
    WEB,
    WEB_NAME,
    audit_actions,
    field_block,
    page_text,
    provider_calls,
    sim_snapshot_count,
    visible_text,
)


def test_operator_creates_a_snapshot(
    seeded_simulator: RunningSimulator,
    operator_client: Client,
    operator: User,
    queued_polls: list[int],
) -> None:
    response = operator_client.post(
        f"/servers/{WEB}/snapshots/",
        {"name": "before-php-upgrade", "description": "before the PHP upgrade"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/servers/{WEB}/"
    operation = Operation.objects.get()
    assert operation.kind == OperationKind.CREATE
    assert operation.state == OperationState.IN_PROGRESS
    assert operation.requested_by == operator
    assert operation.requested_from_ip == "127.0.0.1"
    assert operation.snapshot_id == SimSnapshot.objects.get(name="before-php-upgrade").pk
    assert audit_actions(operation) == ["snapshot.create.requested", "snapshot.create.started"]
    assert AuditEvent.objects.filter(actor=operator, operation__isnull=False).count() == 2
    assert provider_calls(CREATE_CALL) == 1
    assert queued_polls == [WEB]


def test_after_a_create_the_server_page_shows_it_in_progress(
    seeded_simulator: RunningSimulator, operator_client: Client
) -> None:
    response = operator_client.post(f"/servers/{WEB}/snapshots/", {"name": "watch-me"}, follow=True)

    operation = Operation.objects.get()
    text = page_text(response)
    assert response.status_code == 200
    assert f"Snapshot “watch-me” of {WEB_NAME} started." in text
    assert "This may take 3-10 minutes" in text
    assert f'id="operation-{operation.pk}"' in response.content.decode()
    assert 'hx-trigger="every 1.5s"' in response.content.decode()
    assert "3 of 5 snapshots used" in text  # the list was refreshed after the create


def test_create_keeps_surrounding_spaces_out_of_the_name(
    seeded_simulator: RunningSimulator, operator_client: Client
) -> None:
    response = operator_client.post(f"/servers/{WEB}/snapshots/", {"name": "  trimmed  "})

    assert response.status_code == 302
    assert SimSnapshot.objects.filter(name="trimmed").exists()


INVALID_NAMES = [
    pytest.param("", "This field is required.", id="empty"),
    pytest.param("with spaces", "no spaces", id="spaces"),
    pytest.param("a" * 65, "Use at most 64 characters (this name has 65).", id="65-chars"),
    pytest.param("../etc", "Use only letters A-Z, digits, dashes", id="path"),
    pytest.param("<script>alert(1)</script>", "Use only letters A-Z, digits", id="html"),
    pytest.param("bаckup", "Use only letters A-Z, digits", id="cyrillic-a"),
]


@pytest.mark.parametrize(("name", "message"), INVALID_NAMES)
def test_invalid_names_are_refused_next_to_the_field(
    seeded_simulator: RunningSimulator,
    operator_client: Client,
    queued_polls: list[int],
    name: str,
    message: str,
) -> None:
    response = operator_client.post(f"/servers/{WEB}/snapshots/", {"name": name})

    assert response.status_code == 400
    block = field_block(response, "id_name")
    assert 'class="error"' in block
    assert message in html.unescape(block)
    if name:
        assert f'value="{html.escape(name)}"' in block  # what was typed stays in the form
    assert "<script>alert(1)" not in response.content.decode()
    assert provider_calls(CREATE_CALL) == 0
    assert not Operation.objects.exists()
    assert queued_polls == []


def test_a_long_description_is_refused_next_to_its_field(
    seeded_simulator: RunningSimulator, operator_client: Client
) -> None:
    response = operator_client.post(
        f"/servers/{WEB}/snapshots/", {"name": "fine-name", "description": "x" * 256}
    )

    assert response.status_code == 400
    assert "at most 255 characters" in html.unescape(field_block(response, "id_description"))
    assert 'value="fine-name"' in field_block(response, "id_name")
    assert provider_calls(CREATE_CALL) == 0


def test_name_input_limits_typing_to_the_provider_limit(
    seeded_simulator: RunningSimulator, operator_client: Client
) -> None:
    block = field_block(operator_client.get(f"/servers/{WEB}/"), "id_name")

    assert 'maxlength="64"' in block


def test_name_input_suggests_a_valid_name(
    seeded_simulator: RunningSimulator, operator_client: Client
) -> None:
    block = field_block(operator_client.get(f"/servers/{WEB}/"), "id_name")

    suggested = re.search(r'value="([^"]*)"', block)
    assert suggested
    assert re.fullmatch(rf"{WEB_NAME}-\d{{8}}-\d{{4}}", suggested[1])


def test_the_same_create_twice_is_refused_while_the_first_runs(
    seeded_simulator: RunningSimulator, operator_client: Client
) -> None:
    first = operator_client.post(f"/servers/{WEB}/snapshots/", {"name": "double-click"})

    second = operator_client.post(f"/servers/{WEB}/snapshots/", {"name": "double-click"})

    assert first.status_code == 302
    assert second.status_code == 400
    assert f"A snapshot named “double-click” is already being created on {WEB_NAME}." in page_text(
        second
    )
    assert provider_calls(CREATE_CALL) == 1
    assert Operation.objects.count() == 1


def test_create_at_the_snapshot_limit_is_refused_without_asking_the_provider(
    seeded_simulator: RunningSimulator, operator_client: Client
) -> None:
    response = operator_client.post(f"/servers/{REPLICA}/snapshots/", {"name": "one-too-many"})

    assert response.status_code == 400
    text = page_text(response)
    assert "db-replica already has 5 snapshots, the provider's limit." in text
    assert "Delete an old one first." in text
    assert "To take a new one, replace the oldest unprotected snapshot," in visible_text(response)
    assert provider_calls(CREATE_CALL) == 0
    assert not Operation.objects.exists()
    assert sim_snapshot_count(REPLICA) == 5


def test_at_the_limit_the_create_form_asks_to_replace_the_oldest(
    seeded_simulator: RunningSimulator, admin_client: Client
) -> None:
    response = admin_client.get(f"/servers/{REPLICA}/")

    assert "This server has 5 snapshots, the most the provider allows." in page_text(response)
    assert '<fieldset disabled aria-describedby="limit-reason">' not in response.content.decode()
    assert 'name="replace_snapshot" value="785" required' in response.content.decode()


def test_the_create_form_is_disabled_when_every_snapshot_is_protected(
    seeded_simulator: RunningSimulator, admin_client: Client
) -> None:
    for snapshot in SimSnapshot.objects.filter(server_id=REPLICA):
        SnapshotRecord.objects.create(snapshot_id=snapshot.pk, server_id=REPLICA,
                                      name=snapshot.name, protected=True)  # fmt: skip

    response = admin_client.get(f"/servers/{REPLICA}/")

    assert "and every one is protected. An Admin must lift a protection" in page_text(response)
    assert '<fieldset disabled aria-describedby="limit-reason">' in response.content.decode()


def test_provider_refusal_is_shown_in_its_own_words(
    seeded_simulator: RunningSimulator, operator_client: Client, queued_polls: list[int]
) -> None:
    controls.add_fault(method="POST", status=400, error_shape="error", message="Quota exceeded.")

    response = operator_client.post(f"/servers/{WEB}/snapshots/", {"name": "over-quota"})

    assert response.status_code == 400
    assert "The provider refused: Quota exceeded." in page_text(response)
    assert 'value="over-quota"' in field_block(response, "id_name")
    operation = Operation.objects.get()
    assert operation.state == OperationState.FAILED
    assert operation.error == "Quota exceeded."
    assert audit_actions(operation) == ["snapshot.create.requested", "snapshot.create.refused"]
    assert provider_calls(CREATE_CALL) == 1
    assert queued_polls == []


def test_provider_503_on_create_leaves_the_operation_to_be_reconciled(
    seeded_simulator: RunningSimulator, operator_client: Client, queued_polls: list[int]
) -> None:
    controls.add_fault(method="POST", status=503)

    response = operator_client.post(
        f"/servers/{WEB}/snapshots/", {"name": "unknown-fate"}, follow=True
    )

    assert response.status_code == 200
    assert response.redirect_chain == [(f"/servers/{WEB}/", 302)]
    operation = Operation.objects.get()
    assert operation.state == OperationState.IN_PROGRESS
    assert operation.needs_reconcile
    assert operation.snapshot_id is None
    text = page_text(response)
    assert "The provider did not confirm snapshot “unknown-fate”" in text
    assert "It may have started it all the same" in text
    assert "will not send it twice" in text
    assert "The dashboard is checking whether it was received" in text  # the operation row
    assert 'class="toast toast-warning"' in response.content.decode()
    assert audit_actions(operation) == ["snapshot.create.requested", "snapshot.create.unconfirmed"]
    assert provider_calls(CREATE_CALL) == 1  # never retried
    assert queued_polls == [WEB]


def test_provider_rejecting_the_token_on_create_is_explained(
    seeded_simulator: RunningSimulator, operator_client: Client
) -> None:
    operator_client.get(f"/servers/{WEB}/")  # the fleet is cached while the token still works
    controls.set_token("other")

    response = operator_client.post(f"/servers/{WEB}/snapshots/", {"name": "no-token"})

    assert response.status_code == 400
    text = page_text(response)
    assert "The provider rejected the dashboard's API token. Nothing was changed." in text
    assert Operation.objects.get().state == OperationState.FAILED


def test_create_is_refused_while_the_server_is_being_restored(
    seeded_simulator: RunningSimulator, operator_client: Client
) -> None:
    operator_client.post(
        f"/snapshots/{NEWEST}/restore/", {"confirm_name": WEB_NAME, "safety": "skip"}
    )

    page = operator_client.get(f"/servers/{WEB}/")
    response = operator_client.post(f"/servers/{WEB}/snapshots/", {"name": "during-restore"})

    assert "Take a snapshot once the restore has finished." in page_text(page)
    assert response.status_code == 400
    assert f"{WEB_NAME} is being restored; wait until the restore has finished." in page_text(
        response
    )
    assert provider_calls(CREATE_CALL) == 0
