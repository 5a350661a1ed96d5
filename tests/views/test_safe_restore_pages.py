"""A restore you can undo, on the pages: the plan on the restore page, the choice at 5 of 5,
the chain's steps on the server page (polled while it runs), the second person told who,
and "Undo the restore of …"."""

from __future__ import annotations

import re

from django.test import Client

from provider_sim.models import SimSnapshot
from snapshots_ui import polling, workflows
from snapshots_ui.models import Workflow, WorkflowKind, WorkflowState
from tests.views.helpers import (
    CREATE_CALL,
    NEWEST,
    REPLICA,
    RESTORE_CALL,
    WEB,
    WEB_NAME,
    htmx_headers,
    provider_calls,
    visible_text,
)


def logged_in(user) -> Client:  # type: ignore[no-untyped-def]
    """A client of its own (the role fixtures' clients share one)."""
    client = Client()
    client.force_login(user)
    return client


def checked_choice(response) -> list[str]:  # type: ignore[no-untyped-def]
    return re.findall(r'name="safety" value="(\w+)" checked', response.content.decode())


def test_the_restore_page_shows_the_plan_with_a_safety_snapshot_chosen(
    seeded_simulator, operator_client: Client
) -> None:
    response = operator_client.get(f"/snapshots/{NEWEST}/restore/")

    text = visible_text(response)
    assert response.status_code == 200
    assert checked_choice(response) == ["take"]
    assert re.search(
        rf"Snapshot {WEB_NAME} as it is now: safety-before-restore-\d{{8}}-\d{{4}}, kept 7 days "
        r"\(3 min–10 min\)",
        text,
    )
    assert "Once it is completed, restore from pre-migration-snapshot (5 min–15 min)" in text
    assert "8 min–25 min in all" in text
    assert provider_calls(CREATE_CALL) == 0


def test_at_five_of_five_the_page_asks_and_keeps_what_was_typed(
    seeded_simulator, operator_client: Client
) -> None:
    newest = SimSnapshot.objects.filter(server_id=REPLICA).order_by("-created_at").first()
    page = operator_client.get(f"/snapshots/{newest.pk}/restore/")
    assert checked_choice(page) == []
    assert "there is no free slot for a safety snapshot. Choose what to do." in visible_text(page)

    response = operator_client.post(
        f"/snapshots/{newest.pk}/restore/", {"confirm_name": "db-replica"}
    )

    assert response.status_code == 400
    assert "Choose whether to take a safety snapshot first." in visible_text(response)
    assert 'value="db-replica"' in response.content.decode()
    assert provider_calls(RESTORE_CALL) == 0


def test_starting_the_chain_shows_its_steps_on_the_server_page(
    seeded_simulator, operator_client: Client, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3600

    response = operator_client.post(
        f"/snapshots/{NEWEST}/restore/", {"confirm_name": WEB_NAME, "safety": "take"}
    )

    assert response.status_code == 302
    workflow = Workflow.objects.get(kind=WorkflowKind.SAFE_RESTORE)
    page = visible_text(operator_client.get(response["Location"]))
    assert "then the restore once it is completed" in page
    assert "Restore with a safety snapshot Running" in page
    assert re.search(r"Take a snapshot safety-before-restore-\S+ Running \d+ s so far", page)
    assert "Restore the server pre-migration-snapshot Waiting then 5 min–15 min" in page
    assert "Cancel the steps not started yet" in page
    assert provider_calls(RESTORE_CALL) == 0
    polled = operator_client.get(f"/workflows/{workflow.pk}/", headers=htmx_headers())
    assert polled.status_code == 200
    assert f'hx-get="/workflows/{workflow.pk}/"' in polled.content.decode()


def test_a_second_person_is_told_who_started_the_restore(
    seeded_simulator, operator, admin_user, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3600
    logged_in(operator).post(
        f"/snapshots/{NEWEST}/restore/", {"confirm_name": WEB_NAME, "safety": "take"}
    )

    other = logged_in(admin_user)
    page = other.get(f"/snapshots/{NEWEST}/restore/")
    response = other.post(
        f"/snapshots/{NEWEST}/restore/", {"confirm_name": WEB_NAME, "safety": "skip"}
    )

    assert "Something else is running on this server." in visible_text(page)
    assert response.status_code == 400
    assert "omar started “Restore with a safety snapshot” on web-server-01" in visible_text(
        response
    )
    assert provider_calls(CREATE_CALL) == 1
    assert provider_calls(RESTORE_CALL) == 0


def test_the_finished_chain_stops_its_polling_and_the_undo_is_offered(
    seeded_simulator, operator_client: Client, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 0
    settings.VPS_SIM_RESTORE_SECONDS = 0
    operator_client.post(
        f"/snapshots/{NEWEST}/restore/", {"confirm_name": WEB_NAME, "safety": "take"}
    )
    workflow = Workflow.objects.get()
    for _step in range(2):
        polling.operations_poll_server(server_id=WEB)
        workflow = workflows.workflow_advance(workflow.pk)
    assert workflow.state == WorkflowState.SUCCEEDED

    polled = operator_client.get(f"/workflows/{workflow.pk}/", headers=htmx_headers())
    assert polled.status_code == 286
    assert "operation-finished" in polled["HX-Trigger"]
    assert "hx-get" not in polled.content.decode()

    page = operator_client.get(f"/servers/{WEB}/")
    text = visible_text(page)
    safety = SimSnapshot.objects.get(server_id=WEB, name__startswith="safety-before-restore-")
    assert f"the safety snapshot {safety.name} taken just before still holds the server" in text
    assert re.search(r"Undo the restore of \d", text)
    assert f'href="/snapshots/{safety.pk}/restore/"' in page.content.decode()

    activity = visible_text(operator_client.get("/activity/"))
    assert f"Create snapshot step 1 of “Restore with a safety snapshot” #{workflow.pk}" in activity
    assert f"Restore server step 2 of “Restore with a safety snapshot” #{workflow.pk}" in activity

    undo = visible_text(operator_client.get(f"/snapshots/{safety.pk}/restore/"))
    assert re.search(r"^.*Undo the restore of ", undo)
    assert "back as it was just before it was restored from “pre-migration-snapshot”" in undo


def test_a_viewer_sees_the_chain_but_no_undo(
    seeded_simulator, viewer_client: Client, operator, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 0
    settings.VPS_SIM_RESTORE_SECONDS = 0
    logged_in(operator).post(
        f"/snapshots/{NEWEST}/restore/", {"confirm_name": WEB_NAME, "safety": "take"}
    )
    workflow = Workflow.objects.get()
    for _step in range(2):
        polling.operations_poll_server(server_id=WEB)
        workflows.workflow_advance(workflow.pk)

    text = visible_text(viewer_client.get(f"/servers/{WEB}/"))

    assert "Restore with a safety snapshot Succeeded" in text
    assert "Undo the restore" not in text
