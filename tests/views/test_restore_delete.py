"""Restoring a server from a snapshot, and deleting a snapshot."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from django.test import Client
from django.utils import formats, timezone

from provider_sim import controls
from provider_sim.models import SimServer, SimSnapshot
from provider_sim.server import RunningSimulator
from snapshots_ui.models import Operation, OperationKind
from snapshots_ui.statuses import OperationState
from tests.views.helpers import (
    DELETE_CALL,
    EMPTY,
    FAILED_SNAPSHOT,
    NEWEST,
    OLDER,
    RESTORE_CALL,
    WEB,
    WEB_NAME,
    audit_actions,
    field_block,
    page_text,
    provider_calls,
    snapshot_row_ids,
)

# --- Restore --------------------------------------------------------------------------------------


def test_restore_confirmation_page_says_what_will_happen(
    seeded_simulator: RunningSimulator, operator_client: Client
) -> None:
    snapshot = SimSnapshot.objects.get(pk=NEWEST)

    response = operator_client.get(f"/snapshots/{NEWEST}/restore/")

    text = page_text(response)
    taken = formats.date_format(timezone.localtime(snapshot.created_at), "DATETIME_FORMAT")
    assert response.status_code == 200
    assert f"Restore {WEB_NAME} from a snapshot" in text
    assert "pre-migration-snapshot" in text
    assert f"({taken} UTC)" in text
    assert f"All data on {WEB_NAME} written after {taken} UTC is replaced." in re.sub(
        r"</?(strong|bdi)>", "", text
    )
    assert "The provider cannot undo a restore" in text
    assert "5 min–15 min in all" in text  # without a safety snapshot
    assert "The server is stopped first" in text
    assert provider_calls(RESTORE_CALL) == 0


def test_restore_with_the_wrong_confirmation_is_refused(
    seeded_simulator: RunningSimulator, operator_client: Client
) -> None:
    response = operator_client.post(
        f"/snapshots/{NEWEST}/restore/", {"confirm_name": "web-server-1", "safety": "skip"}
    )

    assert response.status_code == 400
    block = html.unescape(field_block(response, "id_confirm_name"))
    assert f"That is not the server's name. Type “{WEB_NAME}” exactly to confirm." in block
    assert 'value="web-server-1"' in block
    assert provider_calls(RESTORE_CALL) == 0
    assert not Operation.objects.exists()
    assert SimServer.objects.get(pk=WEB).status == "running"


def test_restore_with_the_right_confirmation_starts_it(
    seeded_simulator: RunningSimulator, operator_client: Client, queued_polls: list[int]
) -> None:
    response = operator_client.post(
        f"/snapshots/{NEWEST}/restore/", {"confirm_name": WEB_NAME, "safety": "skip"}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/servers/{WEB}/"
    assert SimServer.objects.get(pk=WEB).status == "restoring"
    operation = Operation.objects.get()
    assert operation.kind == OperationKind.RESTORE
    assert operation.state == OperationState.IN_PROGRESS
    assert operation.snapshot_id == NEWEST
    assert not operation.needs_reconcile
    assert audit_actions(operation) == [
        "server.restore.requested",
        "server.restore.started",
        "restore.safety.skipped",
    ]
    assert provider_calls(RESTORE_CALL) == 1
    assert queued_polls == [WEB]

    page = operator_client.get(response["Location"])
    text = page_text(page)
    assert f"Restore of {WEB_NAME} from “pre-migration-snapshot” started." in text
    assert "This may take 5-15 minutes." in text
    # While it runs, no other restore can be started from the page.
    assert f'href="/snapshots/{OLDER}/restore/"' not in page.content.decode()
    assert 'aria-disabled="true"' in page.content.decode()


def test_a_second_restore_while_one_runs_is_refused(
    seeded_simulator: RunningSimulator, operator_client: Client
) -> None:
    operator_client.post(
        f"/snapshots/{NEWEST}/restore/", {"confirm_name": WEB_NAME, "safety": "skip"}
    )

    page = operator_client.get(f"/snapshots/{OLDER}/restore/")
    response = operator_client.post(
        f"/snapshots/{OLDER}/restore/", {"confirm_name": WEB_NAME, "safety": "skip"}
    )

    assert "Something else is running on this server." in page_text(page)
    assert response.status_code == 400
    assert f"Another operation is still running on {WEB_NAME}" in page_text(response)
    assert provider_calls(RESTORE_CALL) == 1
    assert Operation.objects.count() == 1


def test_restore_of_a_snapshot_that_is_not_completed_is_refused(
    seeded_simulator: RunningSimulator, operator_client: Client
) -> None:
    page = operator_client.get(f"/snapshots/{FAILED_SNAPSHOT}/restore/")
    response = operator_client.post(
        f"/snapshots/{FAILED_SNAPSHOT}/restore/", {"confirm_name": "db-primary", "safety": "skip"}
    )

    assert page.status_code == 200
    assert "This snapshot is not completed, so it cannot be restored yet." in page_text(page)
    assert "<fieldset disabled>" in page.content.decode()
    assert response.status_code == 400
    assert "Only a completed snapshot can be restored." in page_text(response)
    assert provider_calls(RESTORE_CALL) == 0
    assert not Operation.objects.exists()


def test_restore_of_a_snapshot_still_being_created_is_refused(
    seeded_simulator: RunningSimulator, operator_client: Client, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 600
    operator_client.post(f"/servers/{EMPTY}/snapshots/", {"name": "still-running"})
    snapshot_id = SimSnapshot.objects.get(name="still-running").pk

    response = operator_client.post(
        f"/snapshots/{snapshot_id}/restore/", {"confirm_name": "staging-app", "safety": "skip"}
    )

    assert response.status_code == 400
    assert "Only a completed snapshot can be restored." in page_text(response)
    assert provider_calls(RESTORE_CALL) == 0


def test_restore_of_an_unknown_snapshot_is_a_404_page(
    seeded_simulator: RunningSimulator, operator_client: Client
) -> None:
    response = operator_client.get("/snapshots/424242/restore/")

    assert response.status_code == 404
    assert "No snapshot with id 424242 is known to the provider." in page_text(response)


def test_provider_refusing_a_restore_is_shown_in_its_own_words(
    seeded_simulator: RunningSimulator, operator_client: Client
) -> None:
    operator_client.get(f"/snapshots/{NEWEST}/restore/")
    # Someone started a restore at the provider's console meanwhile.
    SimServer.objects.filter(pk=WEB).update(
        status="restoring", restore_due_at=timezone.now() + timedelta(hours=1)
    )

    response = operator_client.post(
        f"/snapshots/{NEWEST}/restore/", {"confirm_name": WEB_NAME, "safety": "skip"}
    )

    assert response.status_code == 400
    assert "The provider refused: The server is already being restored." in page_text(response)
    assert Operation.objects.get().state == OperationState.FAILED


# --- Delete ---------------------------------------------------------------------------------------


def test_delete_confirmation_names_the_snapshot(
    seeded_simulator: RunningSimulator, admin_client: Client
) -> None:
    name = SimSnapshot.objects.get(pk=OLDER).name

    response = admin_client.get(f"/snapshots/{OLDER}/delete/")

    text = page_text(response)
    assert response.status_code == 200
    assert f"Delete snapshot “{name}”?" in text
    assert f"The snapshot “{name}” of {WEB_NAME} will be deleted permanently." in text
    assert "It cannot be undone" in text
    assert provider_calls(DELETE_CALL) == 0
    assert SimSnapshot.objects.filter(pk=OLDER).exists()


def test_admin_deletes_a_snapshot(
    seeded_simulator: RunningSimulator, admin_client: Client, queued_polls: list[int]
) -> None:
    name = SimSnapshot.objects.get(pk=OLDER).name

    response = admin_client.post(f"/snapshots/{OLDER}/delete/")

    assert response.status_code == 302
    assert response["Location"] == f"/servers/{WEB}/"
    assert not SimSnapshot.objects.filter(pk=OLDER).exists()
    operation = Operation.objects.get()
    assert operation.kind == OperationKind.DELETE
    assert operation.state == OperationState.SUCCEEDED
    assert operation.finished_at is not None
    assert operation.snapshot_name == name
    assert audit_actions(operation) == ["snapshot.delete.requested", "snapshot.delete.done"]
    assert provider_calls(DELETE_CALL) == 1
    assert queued_polls == []  # a delete is over when the provider answers

    page = admin_client.get(response["Location"])
    assert f"Snapshot “{name}” of {WEB_NAME} deleted." in page_text(page)
    assert snapshot_row_ids(page) == [NEWEST]


def test_deleting_a_snapshot_the_provider_already_deleted_is_a_sentence(
    seeded_simulator: RunningSimulator, admin_client: Client
) -> None:
    admin_client.get(f"/snapshots/{OLDER}/delete/")  # the dashboard still lists it
    SimSnapshot.objects.filter(pk=OLDER).delete()  # deleted in the provider's console

    response = admin_client.post(f"/snapshots/{OLDER}/delete/", follow=True)

    assert response.status_code == 200
    assert f"of {WEB_NAME} had already been deleted." in page_text(response)
    operation = Operation.objects.get()
    assert operation.state == OperationState.SUCCEEDED
    assert provider_calls(DELETE_CALL) == 1


def test_deleting_a_snapshot_twice_is_a_404_page_with_a_sentence(
    seeded_simulator: RunningSimulator, admin_client: Client
) -> None:
    assert admin_client.post(f"/snapshots/{OLDER}/delete/").status_code == 302

    response = admin_client.post(f"/snapshots/{OLDER}/delete/")

    assert response.status_code == 404
    assert f"No snapshot with id {OLDER} is known to the provider." in page_text(response)
    assert provider_calls(DELETE_CALL) == 1


def test_deleting_a_snapshot_being_restored_from_is_refused(
    seeded_simulator: RunningSimulator, admin_client: Client
) -> None:
    admin_client.post(f"/snapshots/{NEWEST}/restore/", {"confirm_name": WEB_NAME, "safety": "skip"})

    response = admin_client.post(f"/snapshots/{NEWEST}/delete/")

    assert response.status_code == 400
    assert (
        f"{WEB_NAME} is being restored from this snapshot; it cannot be deleted now."
        in page_text(response)
    )
    assert provider_calls(DELETE_CALL) == 0
    assert SimSnapshot.objects.filter(pk=NEWEST).exists()


def test_provider_refusing_a_delete_is_shown_in_its_own_words(
    seeded_simulator: RunningSimulator, admin_client: Client
) -> None:
    controls.add_fault(method="DELETE", status=400, message="Snapshot is locked.")

    response = admin_client.post(f"/snapshots/{OLDER}/delete/")

    assert response.status_code == 400
    assert "The provider refused: Snapshot is locked." in page_text(response)
    assert Operation.objects.get().state == OperationState.FAILED
    assert SimSnapshot.objects.filter(pk=OLDER).exists()
