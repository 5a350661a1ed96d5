"""Why an action was not carried out: one exception type per reason, each carrying a sentence
for the user. Callers tell refusals apart by type, never by comparing sentences."""

from __future__ import annotations

from snapshots_ui import provider


class ActionRefused(Exception):
    """The action was not sent, or the provider refused it; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NameInvalid(ActionRefused):
    """The snapshot name breaks the provider's naming rule."""


class SnapshotLimitReached(ActionRefused):
    """The server already has as many snapshots as the provider allows."""


class ServerBusy(ActionRefused):
    """Another operation on the server rules this one out until it ends."""


class AlreadyRunning(ActionRefused):
    """The same operation is already in progress (a double click, a second tab)."""


class NotRestorable(ActionRefused):
    """Only a completed snapshot can be restored."""


class OperationNotOpen(ActionRefused):
    """The operation cannot be closed by hand in its current state."""


class ProviderRefused(ActionRefused):
    """The provider said no (or could not be asked); ``error`` is what it said."""

    def __init__(self, message: str, *, error: provider.ProviderError) -> None:
        super().__init__(message)
        self.error = error
