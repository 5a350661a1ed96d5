"""The pages, through Django's test client, against the provider simulator over real HTTP.

Polls that the services queue on commit are recorded instead of sent to Celery (no worker runs
here); everything else — views, services, the provider client, the simulator — is real.

The fixtures of this folder; the constants and helpers its tests import are in ``helpers``.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client


@pytest.fixture(autouse=True)
def _polls_recorded(queued_polls: list[int]) -> None:
    """No worker runs here: polls queued on commit are recorded instead."""


@pytest.fixture
def viewer_client(client: Client, viewer: User) -> Client:
    """Django's test client, logged in as a Viewer."""
    client.force_login(viewer)
    return client


@pytest.fixture
def operator_client(client: Client, operator: User) -> Client:
    """Django's test client, logged in as an Operator."""
    client.force_login(operator)
    return client


@pytest.fixture
def admin_client(client: Client, admin_user: User) -> Client:
    """Django's test client, logged in as an Admin (staff)."""
    client.force_login(admin_user)
    return client
