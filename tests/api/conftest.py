"""The API through Django's test client (or over HTTP on the live server), against the
provider simulator. Polls queued on commit are recorded instead of sent to Celery.

``token_for(user, "read,create")`` makes a token the way the account page does."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from snapshots_ui.api_tokens import api_token_create
from snapshots_ui.audit import SYSTEM


@pytest.fixture(autouse=True)
def _polls_recorded(queued_polls: list[int]) -> None:
    """No worker runs here: polls queued on commit are recorded instead."""


@pytest.fixture
def token_for() -> Callable[..., str]:
    def make(user: object, scopes: str, name: str = "ci") -> str:
        _token, raw = api_token_create(
            actor=SYSTEM, user=user, name=name, scopes=scopes.split(","), lifetime=None
        )
        return raw

    return make


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def api(client: Client) -> Callable[..., object]:
    """``api(method, path, token, json=None, headers=None)`` → the test client's response."""

    def call(
        method: str,
        path: str,
        token: str | None,
        json: object = None,
        headers: dict[str, str] | None = None,
    ) -> object:
        sent = {**(bearer(token) if token else {}), **(headers or {})}
        kwargs: dict[str, object] = {"headers": sent}
        if json is not None:
            kwargs["data"] = json
            kwargs["content_type"] = "application/json"
        return getattr(client, method.lower())(path, **kwargs)

    return call
