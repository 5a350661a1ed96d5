"""The live status of one operation, and closing a stuck operation by hand."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from provider_sim import controls
from provider_sim.models import SimSnapshot
from provider_sim.server import RunningSimulator
from snapshots_ui.statuses import OperationState
from tests.factories import OperationFactory
from tests.views.helpers import (
    OLDER,
    WEB,
    WEB_NAME,
    audit_actions,
    page_text,
    provider_calls,
)

# --- Live status of one operation -----------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "trigger"), [(1.5, "every 1.5s"), (2, "every 2s")])
def test_an_operation_in_progress_keeps_polling(
    db: None, viewer_client: Client, settings, seconds: float, trigger: str
) -> None:
    settings.VPS_STATUS_REFRESH_SECONDS = seconds
    operation = OperationFactory(snapshot_name="live-one")

    response = viewer_client.get(f"/operations/{operation.pk}/")

    body = response.content.decode()
    assert response.status_code == 200
    assert body.strip().startswith(f'<li id="operation-{operation.pk}"')
    assert f'hx-trigger="{trigger}"' in body
    assert f'hx-get="/operations/{operation.pk}/"' in body
    assert "live-one" in body
    assert "HX-Trigger" not in response


def test_a_stuck_operation_polls_slower_and_says_so(db: None, viewer_client: Client) -> None:
    operation = OperationFactory(state=OperationState.STUCK)

    response = viewer_client.get(f"/operations/{operation.pk}/")

    assert response.status_code == 200
    assert 'hx-trigger="every 10s"' in response.content.decode()
    assert "taking much longer than the provider's stated maximum" in page_text(response)
    assert "an Admin can close it here" in page_text(response)


@pytest.mark.parametrize(
    ("state", "level", "outcome"),
    [(OperationState.SUCCEEDED, "success", "is ready"), (OperationState.FAILED, "error", "failed")],
)
def test_a_finished_operation_stops_polling_and_announces_itself(
    db: None, viewer_client: Client, state: OperationState, level: str, outcome: str
) -> None:
    operation = OperationFactory(snapshot_name="done-one", state=state, finished_at=timezone.now())

    response = viewer_client.get(f"/operations/{operation.pk}/")

    assert response.status_code == 286
    assert "hx-trigger" not in response.content.decode()
    assert f'id="operation-{operation.pk}"' in response.content.decode()
    event = json.loads(response["HX-Trigger"])["operation-finished"]
    assert event == {
        "message": f"Snapshot “done-one” of {WEB_NAME} {outcome}.",
        "level": level,
        "id": operation.pk,
    }


def test_chip_variant(db: None, viewer_client: Client) -> None:
    running = OperationFactory(snapshot_name="chip-one")
    done = OperationFactory(state=OperationState.SUCCEEDED, finished_at=timezone.now())

    live = viewer_client.get(f"/operations/{running.pk}/", {"variant": "chip"})
    over = viewer_client.get(f"/operations/{done.pk}/", {"variant": "chip"})

    assert live.status_code == 200
    assert live.content.decode().strip().startswith(f'<span id="operation-chip-{running.pk}"')
    assert f'hx-get="/operations/{running.pk}/?variant=chip"' in live.content.decode()
    assert 'hx-trigger="every 1.5s"' in live.content.decode()
    assert "<li" not in live.content.decode()
    assert over.status_code == 286
    assert f'id="operation-chip-{done.pk}"' in over.content.decode()
    assert "hx-trigger" not in over.content.decode()


def test_unknown_operation_is_a_404(db: None, viewer_client: Client) -> None:
    assert viewer_client.get("/operations/987654/").status_code == 404


# --- Closing a stuck operation by hand ---------------------------------------------------------


@pytest.mark.parametrize(("role", "sees_form"), [("operator", False), ("admin_user", True)])
def test_only_admins_are_offered_to_close_a_stuck_operation(
    db: None, client: Client, request: pytest.FixtureRequest, role: str, sees_form: bool
) -> None:
    operation = OperationFactory(state=OperationState.STUCK)
    client.force_login(request.getfixturevalue(role))

    response = client.get(f"/operations/{operation.pk}/")

    body = response.content.decode()
    assert (f'action="/operations/{operation.pk}/resolve/"' in body) is sees_form
    assert ("Mark failed" in body) is sees_form


@pytest.mark.parametrize(
    ("action", "note", "state", "recorded"),
    [
        ("failed", "Provider support says the disk was full.", OperationState.FAILED, "error"),
        ("succeeded", "The snapshot is there.", OperationState.SUCCEEDED, "provider_message"),
    ],
)
def test_admin_closes_a_stuck_operation_and_the_decision_is_audited(
    seeded_simulator: RunningSimulator,
    admin_client: Client,
    admin_user: User,
    action: str,
    note: str,
    state: OperationState,
    recorded: str,
) -> None:
    operation = OperationFactory(state=OperationState.STUCK)

    response = admin_client.post(
        f"/operations/{operation.pk}/resolve/", {"action": action, "note": note}, follow=True
    )

    assert response.redirect_chain == [(f"/servers/{WEB}/", 302)]
    assert "The operation was closed and the decision recorded." in page_text(response)
    operation.refresh_from_db()
    assert operation.state == state
    assert operation.finished_at is not None
    assert getattr(operation, recorded) == note
    event = operation.audit_events.get()
    assert (event.action, event.actor, event.detail) == (
        f"operation.resolved.{action}",
        admin_user,
        note,
    )


def test_closing_without_a_note_records_who_closed_it(
    seeded_simulator: RunningSimulator, admin_client: Client, admin_user: User
) -> None:
    operation = OperationFactory(state=OperationState.STUCK)

    admin_client.post(f"/operations/{operation.pk}/resolve/", {"action": "failed", "note": "  "})

    operation.refresh_from_db()
    assert operation.state == OperationState.FAILED
    assert operation.error == f"Closed by hand by {admin_user.username}."


@pytest.mark.parametrize(
    ("state", "action", "message"),
    [
        (OperationState.SUCCEEDED, "failed", "This operation has already ended."),
        (OperationState.STUCK, "explode", "That action is not known; nothing was changed."),
        (OperationState.STUCK, "", "That action is not known; nothing was changed."),
    ],
)
def test_closing_is_refused_with_a_sentence(
    seeded_simulator: RunningSimulator,
    admin_client: Client,
    state: OperationState,
    action: str,
    message: str,
) -> None:
    operation = OperationFactory(state=state)

    response = admin_client.post(
        f"/operations/{operation.pk}/resolve/", {"action": action}, follow=True
    )

    assert response.status_code == 200
    assert message in page_text(response)
    operation.refresh_from_db()
    assert operation.state == state
    assert not operation.audit_events.exists()


def test_admin_asks_the_provider_again_about_a_stuck_operation(
    seeded_simulator: RunningSimulator, admin_client: Client
) -> None:
    operation = OperationFactory(
        state=OperationState.STUCK,
        snapshot_id=OLDER,  # completed at the provider
        snapshot_name=SimSnapshot.objects.get(pk=OLDER).name,
    )

    response = admin_client.post(
        f"/operations/{operation.pk}/resolve/", {"action": "recheck"}, follow=True
    )

    assert "The provider was asked again about this operation." in page_text(response)
    operation.refresh_from_db()
    assert operation.state == OperationState.SUCCEEDED
    assert audit_actions(operation) == ["operation.recheck", "operation.succeeded"]
    assert provider_calls("GET /api/v1/snapshots/") >= 1


def test_asking_again_while_the_provider_is_down_is_a_sentence(
    seeded_simulator: RunningSimulator, admin_client: Client
) -> None:
    operation = OperationFactory(state=OperationState.STUCK)
    admin_client.get(f"/servers/{WEB}/")
    controls.add_fault(path_contains="/api/v1/", status=503)

    response = admin_client.post(
        f"/operations/{operation.pk}/resolve/", {"action": "recheck"}, follow=True
    )

    assert response.status_code == 200
    assert "The provider could not be asked:" in page_text(response)
    operation.refresh_from_db()
    assert operation.state == OperationState.STUCK
