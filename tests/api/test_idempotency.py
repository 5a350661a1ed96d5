"""``Idempotency-Key``: a retried POST gets the first answer; ten at once act once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from snapshots_ui.api_tokens import api_token_create
from snapshots_ui.audit import SYSTEM
from snapshots_ui.idempotency import idempotency_forget
from snapshots_ui.models import IdempotentRequest
from tests.api.conftest import bearer
from tests.views.helpers import CREATE_CALL, EMPTY, provider_calls

CREATE = f"/api/v1/servers/{EMPTY}/snapshots/"


@pytest.mark.usefixtures("seeded_simulator")
def test_ten_concurrent_posts_with_one_key_make_one_provider_create(token_for, operator) -> None:
    headers = {**bearer(token_for(operator, "create")), "Idempotency-Key": "deploy-1234"}
    start = threading.Barrier(10)
    answers: list[tuple[int, dict[str, object], str | None]] = []

    def post() -> None:
        try:
            start.wait()
            response = Client().post(CREATE, {"name": "before-deploy-1234"},
                                     content_type="application/json", headers=headers)  # fmt: skip
            answers.append(
                (response.status_code, response.json(), response.get("Idempotent-Replayed"))
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert provider_calls(CREATE_CALL) == 1
    assert [status for status, _body, _replayed in answers] == [202] * 10
    assert len({body["operation"]["id"] for _status, body, _replayed in answers}) == 1
    assert sum(replayed == "true" for _s, _b, replayed in answers) == 9


@pytest.mark.usefixtures("seeded_simulator")
def test_a_retry_gets_the_first_answer_and_a_different_body_is_refused(
    api, token_for, operator
) -> None:
    token = token_for(operator, "create")
    key = {"Idempotency-Key": "retry-me"}

    first = api("POST", CREATE, token, json={"name": "first"}, headers=key)
    again = api("POST", CREATE, token, json={"name": "first"}, headers=key)
    other = api("POST", CREATE, token, json={"name": "second"}, headers=key)

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert other.json()["type"].endswith("idempotency-key-reused")
    assert provider_calls(CREATE_CALL) == 1


@pytest.mark.usefixtures("seeded_simulator")
def test_a_refusal_is_kept_too(api, token_for, operator) -> None:
    token = token_for(operator, "create")
    key = {"Idempotency-Key": "refused-once"}
    body = {"name": "x", "keep_until": None}

    first = api("POST", "/api/v1/servers/12351/snapshots/", token, json=body, headers=key)
    again = api("POST", "/api/v1/servers/12351/snapshots/", token, json=body, headers=key)

    assert first.status_code == again.status_code == 409
    assert again["Content-Type"] == "application/problem+json"
    assert again.json() == first.json()


def test_answers_are_forgotten_after_a_day(db: None, operator) -> None:
    token, _raw = api_token_create(actor=SYSTEM, user=operator, name="ci", scopes=["create"],
                                   lifetime=None)  # fmt: skip
    now = timezone.now()
    IdempotentRequest.objects.create(token=token, key="old", request_hash="x", status=202,
                                     created_at=now - timedelta(hours=25))  # fmt: skip
    IdempotentRequest.objects.create(token=token, key="new", request_hash="x", status=202)

    assert idempotency_forget(now=now) == 1
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["new"]
