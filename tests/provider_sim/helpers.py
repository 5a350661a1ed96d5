"""Requests to the simulator as the spec's examples make them, and the spec's examples."""

import re
from typing import Any

import requests

from provider_sim.server import RunningSimulator

TIMEOUT = 10
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

# The provider's own examples (docs/spec), used for their fields and shapes.
SPEC_LIST = {
    "count": 2,
    "results": [
        {
            "id": 801,
            "server": {"id": 12345, "name": "web-server-01"},
            "name": "pre-migration-snapshot",
            "status": "completed",
            "size_mb": 5120,
            "created_at": "2025-01-15T18:30:00Z",
            "description": "Before major migration",
        },
    ],
}
SPEC_CREATE_REQUEST = {
    "server_id": 12345,
    "name": "before-update-snapshot",
    "description": "Snapshot before system update",
}
SPEC_CREATED = {
    "id": 802,
    "server": {"id": 12345, "name": "web-server-01"},
    "name": "before-update-snapshot",
    "status": "in_progress",
    "size_mb": None,
    "created_at": "2025-01-16T16:15:00Z",
    "description": "Snapshot before system update",
    "message": "Snapshot is being created. This may take 3-10 minutes depending on server size.",
}
SPEC_RESTORED = {
    "status": "success",
    "message": "Server is being restored from snapshot. This may take 5-15 minutes.",
    "snapshot": {"id": 801, "name": "pre-migration-snapshot", "created_at": "2025-01-15T18:30:00Z"},
    "server": {"id": 12345, "name": "web-server-01", "status": "restoring"},
}


def call(
    sim: RunningSimulator,
    method: str,
    path: str,
    *,
    token: str | None = None,
    timeout: float = TIMEOUT,
    **kwargs: Any,
) -> requests.Response:
    """One API request with the simulator's token (or ``token``), as the spec's examples."""
    headers = {"Authorization": f"Bearer {token or sim.token}", "Content-Type": "application/json"}
    return requests.request(method, sim.base_url + path, headers=headers, timeout=timeout, **kwargs)


def control(sim: RunningSimulator, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {sim.token}"}
    return requests.request(
        method, f"{sim.root_url}_sim/{path}", headers=headers, timeout=TIMEOUT, **kwargs
    )


def shape(value: Any) -> Any:
    """The field names (recursively) and value types of a JSON document."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def server_status(sim: RunningSimulator, server_id: int) -> str:
    return call(sim, "GET", f"servers/{server_id}/").json()["status"]
