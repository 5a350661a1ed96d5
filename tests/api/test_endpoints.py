"""The API's endpoints against the simulator: the same rules and sentences as the pages, the
audit trail with the token's name, problem details, long-polls."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from provider_sim.models import SimSnapshot
from provider_sim.server import RunningSimulator
from snapshots_ui.api import views as api_views
from snapshots_ui.models import AuditEvent, Operation
from snapshots_ui.statuses import OperationState
from tests.factories import OperationFactory
from tests.views.helpers import (
    CREATE_CALL,
    EMPTY,
    NEWEST,
    OLDER,
    REPLICA,
    RESTORE_CALL,
    WEB,
    WEB_NAME,
    provider_calls,
)

pytestmark = pytest.mark.usefixtures("seeded_simulator")


def test_servers_list_states_slots_and_operations_in_progress(api, token_for, viewer) -> None:
    OperationFactory(server_id=WEB, server_name=WEB_NAME, snapshot_name="running-one")
    token = token_for(viewer, "read")

    response = api("GET", "/api/v1/servers/", token)

    assert response.status_code == 200
    servers = {server["id"]: server for server in response.json()}
    assert servers[WEB]["name"] == WEB_NAME
    assert servers[WEB]["slots_used"] == 2
    assert servers[WEB]["slots_limit"] == 5
    assert [op["snapshot_name"] for op in servers[WEB]["operations_in_progress"]] == ["running-one"]
    assert servers[REPLICA]["slots_used"] == 5


def test_a_servers_snapshots_newest_first(api, token_for, viewer) -> None:
    response = api("GET", f"/api/v1/servers/{WEB}/snapshots/", token_for(viewer, "read"))

    assert response.status_code == 200
    assert [s["id"] for s in response.json()["snapshots"]] == [NEWEST, OLDER]


def test_create_answers_202_with_the_operation_audited_with_the_tokens_name(
    api, token_for, operator
) -> None:
    token = token_for(operator, "read,create", name="deploy-ci")

    response = api("POST", f"/api/v1/servers/{EMPTY}/snapshots/", token,
                   json={"name": "before-deploy-42", "description": "CI"})  # fmt: skip

    assert response.status_code == 202
    body = response.json()
    assert body["operation"]["kind"] == "create"
    assert body["operation"]["state"] == "in_progress"
    assert body["operation"]["requested_by"] == "omar (token deploy-ci)"
    assert body["wait_url"] == f"/api/v1/operations/{body['operation']['id']}/?wait=60"
    assert provider_calls(CREATE_CALL) == 1
    actions = set(
        AuditEvent.objects.filter(actor_name="omar (token deploy-ci)").values_list(
            "action", flat=True
        )
    )
    assert {"snapshot.create.requested", "snapshot.create.started", "api.request"} <= actions


def test_a_refusal_is_a_problem_with_the_pages_sentence(api, token_for, operator) -> None:
    response = api("POST", f"/api/v1/servers/{REPLICA}/snapshots/", token_for(operator, "create"),
                   json={"name": "one-too-many"})  # fmt: skip

    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:snapshot-dashboard:problem:snapshot-limit"
    assert problem["status"] == 409
    assert "the provider's limit. Delete an old one first." in problem["detail"]
    assert provider_calls(CREATE_CALL) == 0


def test_an_invalid_name_is_refused_with_the_forms_sentence(api, token_for, operator) -> None:
    response = api("POST", f"/api/v1/servers/{WEB}/snapshots/", token_for(operator, "create"),
                   json={"name": "has spaces"})  # fmt: skip

    assert response.status_code == 400
    problem = response.json()
    assert problem["errors"]["name"] == [
        "Use only letters A-Z, digits, dashes (-) and underscores (_); no spaces."
    ]
    assert provider_calls() == 0


def test_replace_oldest_at_the_limit_starts_a_workflow(api, token_for, operator) -> None:
    response = api("POST", f"/api/v1/servers/{REPLICA}/snapshots/", token_for(operator, "create"),
                   json={"name": "fresh-one", "replace_oldest": True})  # fmt: skip

    assert response.status_code == 202
    assert response.json()["workflow"]["kind"] == "replace_oldest"


def test_restore_needs_the_servers_name(api, token_for, operator) -> None:
    token = token_for(operator, "restore")

    wrong = api("POST", f"/api/v1/snapshots/{NEWEST}/restore/", token,
                json={"confirm_name": "web-server-02"})  # fmt: skip
    right = api("POST", f"/api/v1/snapshots/{NEWEST}/restore/", token,
                json={"confirm_name": WEB_NAME})  # fmt: skip

    assert wrong.status_code == 400
    assert "Type “web-server-01” exactly to confirm." in wrong.json()["detail"]
    assert right.status_code == 202
    assert right.json()["operation"]["kind"] == "restore"


def test_a_restore_with_a_safety_snapshot_is_the_pages_chain(
    api, token_for, operator, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3600
    response = api("POST", f"/api/v1/snapshots/{NEWEST}/restore/", token_for(operator, "restore"),
                   json={"confirm_name": WEB_NAME, "safety_snapshot": True})  # fmt: skip

    assert response.status_code == 202
    body = response.json()
    assert body["workflow"]["kind"] == "safe_restore"
    assert body["operation"]["kind"] == "create"  # the safety snapshot, taken first
    assert body["operation"]["snapshot_name"].startswith("safety-before-restore-")
    assert provider_calls(RESTORE_CALL) == 0


def test_a_safety_snapshot_without_a_free_slot_is_refused_and_nothing_done(
    api, token_for, operator
) -> None:
    newest = SimSnapshot.objects.filter(server_id=REPLICA).order_by("-created_at").first()
    token = token_for(operator, "restore")
    response = api("POST", f"/api/v1/snapshots/{newest.pk}/restore/", token,
                   json={"confirm_name": "db-replica", "safety_snapshot": True})  # fmt: skip

    assert response.status_code == 409
    assert "no slot for a safety snapshot" in response.json()["detail"]
    assert not Operation.objects.exists()


def test_delete_through_the_same_action(api, token_for, admin_user) -> None:
    response = api("DELETE", f"/api/v1/snapshots/{OLDER}/", token_for(admin_user, "delete"))

    assert response.status_code == 200
    assert response.json()["state"] == "succeeded"
    assert response.json()["outcome"]


def test_activity_filters_like_the_page(api, token_for, viewer) -> None:
    OperationFactory(server_id=WEB, server_name=WEB_NAME, snapshot_name="alpha")
    OperationFactory(server_id=EMPTY, server_name="staging-app", snapshot_name="beta")
    token = token_for(viewer, "read")

    response = api("GET", f"/api/v1/activity/?server={WEB}&limit=1", token)

    assert response.status_code == 200
    body = response.json()
    assert [op["snapshot_name"] for op in body["results"]] == ["alpha"]
    assert body["count"] == 1
    assert body["next"] is None


def test_wait_returns_when_the_operation_ends_without_holding_a_connection(
    api, token_for, viewer, monkeypatch: pytest.MonkeyPatch
) -> None:
    operation = OperationFactory(server_id=WEB, server_name=WEB_NAME)
    held: list[bool] = []
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        held.append(connection.connection is not None or connection.in_atomic_block)
        assert seconds <= api_views.WAIT_STEP_SECONDS
        real_sleep(seconds)

    monkeypatch.setattr(api_views.time, "sleep", sleep)
    finisher = threading.Timer(
        1.2,
        lambda: Operation.objects.filter(pk=operation.pk).update(state=OperationState.SUCCEEDED),
    )
    finisher.start()
    started = time.monotonic()

    response = api("GET", f"/api/v1/operations/{operation.pk}/?wait=30", token_for(viewer, "read"))

    finisher.join()
    assert response.status_code == 200
    assert response.json()["done"] is True
    assert time.monotonic() - started < 5
    assert held
    assert not any(held)


@pytest.mark.parametrize("wait", ["61", "-1", "soon", "1e9"])
def test_wait_beyond_a_minute_or_not_a_number_is_refused(api, token_for, viewer, wait) -> None:
    operation = OperationFactory()

    response = api("GET", f"/api/v1/operations/{operation.pk}/?wait={wait}",
                   token_for(viewer, "read"))  # fmt: skip

    assert response.status_code == 400
    assert "wait" in response.json()["errors"]


def test_a_tokens_calls_are_foreground_work(
    api, token_for, viewer, monkeypatch: pytest.MonkeyPatch, simulator: RunningSimulator
) -> None:
    from snapshots_ui.provider import budget

    seen: list[str] = []
    real = budget.acquire

    def acquire(*args: object, **kwargs: object) -> object:
        seen.append(budget.current_class())
        return real(*args, **kwargs)

    monkeypatch.setattr(budget, "acquire", acquire)

    api("GET", "/api/v1/servers/", token_for(viewer, "read"))

    assert seen
    assert seen[0] == budget.FOREGROUND
