"""Why an action was not carried out: one exception type per reason, each carrying a sentence
for the user. Callers tell refusals apart by type, never by comparing sentences."""

from __future__ import annotations

from django.utils.translation import gettext as _

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


class SnapshotProtected(ActionRefused):
    """The snapshot is protected: nobody deletes it, by hand, expiry or rotation."""


def provider_error_sentence(exc: provider.ProviderError) -> str:
    """The provider's words plus what the user can do about it."""
    if isinstance(exc, provider.ProviderUnauthorized):
        return _(
            "The provider rejected the dashboard's API token. Nothing was changed. Ask an "
            "administrator to check the token (VPS_API_TOKEN)."
        )
    if isinstance(exc, provider.ProviderNotFound):
        return _(
            "The provider no longer knows this server or snapshot (it may have been deleted "
            "meanwhile). The list has been refreshed. Provider said: %(words)s"
        ) % {"words": exc.message}
    if isinstance(exc, provider.ProviderUnavailable):
        return _(
            "The provider could not be reached (%(words)s). Nothing was changed; try again "
            "in a minute."
        ) % {"words": exc.message}
    return _("The provider refused: %(words)s") % {"words": exc.message}


class SafetySnapshotUnavailable(ActionRefused):
    """A restore with a safety snapshot first was asked for where the dashboard has none."""
