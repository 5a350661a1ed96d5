"""The pages, through Django's test client, against the provider simulator over real HTTP.

Polls that the services queue on commit are recorded instead of sent to Celery (no worker runs
here); everything else — views, services, the provider client, the simulator — is real.

The fixtures of this folder; the constants and helpers its tests import are in ``helpers``.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _polls_recorded(queued_polls: list[int]) -> None:
    """No worker runs here: polls queued on commit are recorded instead."""
