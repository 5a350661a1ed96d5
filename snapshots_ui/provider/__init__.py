"""The hosting provider's Snapshots API (described in docs/provider-api.md).

Everything else in the project calls ``get_client()`` and gets frozen dataclasses back
(``payloads``), or one of the ``ProviderError`` subclasses (``errors``). Only ``client``
speaks HTTP; the API token never appears in a message or a log line.
"""

from snapshots_ui.provider.client import ProviderClient, ProviderSession, get_client
from snapshots_ui.provider.errors import (
    ProviderError,
    ProviderNotFound,
    ProviderRejected,
    ProviderUnauthorized,
    ProviderUnavailable,
)
from snapshots_ui.provider.payloads import (
    Page,
    RestoreStarted,
    Server,
    ServerRef,
    Snapshot,
    SnapshotCreated,
    servers_seen_in,
)

__all__ = [
    "Page",
    "ProviderClient",
    "ProviderError",
    "ProviderNotFound",
    "ProviderRejected",
    "ProviderSession",
    "ProviderUnauthorized",
    "ProviderUnavailable",
    "RestoreStarted",
    "Server",
    "ServerRef",
    "Snapshot",
    "SnapshotCreated",
    "get_client",
    "servers_seen_in",
]
