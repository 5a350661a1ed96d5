from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from snapshots_ui.lifecycle import KEEP_CHOICES
from snapshots_ui.models import OperationKind
from snapshots_ui.safe_restore import RestorePlan
from snapshots_ui.services import SNAPSHOT_NAME_MAX_LENGTH, snapshot_name_error
from snapshots_ui.statuses import OperationState

NAME_RULE = _(
    "Letters A-Z, digits, dashes (-) and underscores (_); no spaces; at most 64 characters."
)

NAME_INPUT = {
    "autocomplete": "off",
    "spellcheck": "false",
    "pattern": "[A-Za-z0-9_\\-]+",
    "maxlength": str(SNAPSHOT_NAME_MAX_LENGTH),
    # What someone is typing survives the live refresh of the form around it.
    "hx-preserve": "true",
}
CODE_INPUT = {
    "autocomplete": "one-time-code",
    "inputmode": "numeric",
    "pattern": "[0-9 ]*",
    "autofocus": True,
}


def suggested_snapshot_name(server_name: str) -> str:
    """``<server>-YYYYMMDD-HHMM``, cleaned to the provider's naming rule."""
    stem = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "-" for ch in server_name
    )
    stem = stem.strip("-")[:40] or "server"
    return f"{stem}-{timezone.now():%Y%m%d-%H%M}"


class SnapshotCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        # The length is checked by the provider's rule below, with a clearer message; the
        # widget's maxlength stops typing at the limit.
        help_text=NAME_RULE,
        strip=True,
        widget=forms.TextInput(attrs=NAME_INPUT),
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=255,
        help_text=_("Optional: why this snapshot exists, e.g. “before the PHP upgrade”."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "hx-preserve": "true"}),
    )

    # Left out of a request (a script's POST), it is SNAPSHOT_DEFAULT_KEEP_DAYS.
    keep_days = forms.TypedChoiceField(
        label=_("Keep until"),
        coerce=int,
        choices=[],
        required=False,
        empty_value=None,
        help_text=_("After that the snapshot is deleted by itself (you can change it later)."),
    )
    # At 5 of 5: the id of the oldest unprotected snapshot, named on the page, to delete first.
    replace_snapshot = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["keep_days"].choices = keep_choices()
        self.fields["keep_days"].initial = settings.SNAPSHOT_DEFAULT_KEEP_DAYS
        self.fields["keep_days"].never_optional = True  # a default is always chosen

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        if error := snapshot_name_error(name):
            raise forms.ValidationError(error)
        return name

    def clean_keep_days(self) -> int:
        days = self.cleaned_data.get("keep_days")
        return settings.SNAPSHOT_DEFAULT_KEEP_DAYS if days is None else days


def keep_choices() -> list[tuple[int, str]]:
    """The "keep until" choices, with the configured default among them."""
    labels = {0: _("Keep until deleted")}
    days_offered = [*sorted({*KEEP_CHOICES, settings.SNAPSHOT_DEFAULT_KEEP_DAYS} - {0}), 0]
    return [
        (days, labels.get(days) or ngettext("%(n)d day", "%(n)d days", days) % {"n": days})
        for days in days_offered
    ]


class BulkDeleteFilterForm(forms.Form):
    """Finding snapshots across the fleet to delete; an empty filter finds nothing."""

    older_than_days = forms.IntegerField(
        label=_("Older than (days)"),
        required=False,
        min_value=0,
        max_value=36500,
        error_messages={"invalid": _("Give the age as a whole number of days, e.g. 30.")},
    )
    name_contains = forms.CharField(label=_("Name contains"), required=False, max_length=64)

    def is_empty(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return data.get("older_than_days") is None and not data.get("name_contains")


class KeepForm(forms.Form):
    keep_days = forms.TypedChoiceField(label=_("Keep until"), coerce=int, choices=[])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["keep_days"].choices = keep_choices()


class RestoreConfirmForm(forms.Form):
    """The restore page: whether to take a safety snapshot first (``plan.choices``; at 5 of 5
    no default, the person must choose) and the server's name typed to confirm."""

    safety = forms.ChoiceField(
        label=_("Before the restore"),
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose whether to take a safety snapshot first."),
            "invalid_choice": _(
                "That choice is not offered for this server any more; choose again."
            ),
        },
    )
    # At 5 of 5: the id of the snapshot named on the page that the safety snapshot replaces.
    replace_snapshot = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    confirm_name = forms.CharField(
        label=_("Type the server's name to confirm"),
        max_length=255,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args: object, plan: RestorePlan, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.server_name = plan.summary.server.name
        self.fields["safety"].choices = [(c.value, c.label) for c in plan.choices]
        self.fields["safety"].initial = plan.default_choice
        if plan.replaceable is not None:
            self.fields["replace_snapshot"].initial = plan.replaceable.snapshot.id

    def clean_confirm_name(self) -> str:
        value: str = self.cleaned_data["confirm_name"]
        if value != self.server_name:
            raise forms.ValidationError(
                _("That is not the server's name. Type “%(name)s” exactly to confirm."),
                params={"name": self.server_name},
            )
        return value


# The activity page's "Action" filter values that list events instead of operations.
ACCOUNT_EVENTS = "account"
LIFECYCLE_EVENTS = "lifecycle"


NOT_A_SERVER = _("That is not a server the dashboard knows; choose one from the list.")


class ActivityFilterForm(forms.Form):
    """Filters for the activity page; wrong values are reported, not fatal.

    "Server" is a list of servers by name (``offer_servers``), sent as the server's id, so
    that a link such as ``?server=<id>`` from a server's page still filters: any id is
    accepted, and one the list does not name is added to it as "Server #<id>".
    """

    q = forms.CharField(label=_("Server, snapshot or person"), required=False, max_length=100)
    kind = forms.ChoiceField(label=_("Action"), required=False)
    state = forms.ChoiceField(label=_("Outcome"), required=False)
    server = forms.IntegerField(
        label=_("Server"),
        required=False,
        min_value=1,
        max_value=2**62,
        widget=forms.Select,
        error_messages={"invalid": NOT_A_SERVER, "min_value": NOT_A_SERVER,
                        "max_value": NOT_A_SERVER},
    )  # fmt: skip

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["kind"].choices = [
            ("", _("Any action")),
            *OperationKind.choices,
            (LIFECYCLE_EVENTS, _("Schedules, protection and expiry")),
            (ACCOUNT_EVENTS, _("Account events")),
        ]
        self.fields["state"].choices = [("", _("Any outcome")), *OperationState.choices]
        self.offer_servers([])

    def offer_servers(self, servers: Sequence[tuple[int, str]]) -> None:
        """Offer ``servers`` (id, name), in that order; a name that several servers share is
        followed by each one's id."""
        counts = Counter(name for _id, name in servers)
        choices: list[tuple[int | str, str]] = [("", _("Any server"))]
        choices += [
            (server_id, f"{name} (#{server_id})" if counts[name] > 1 else name)
            for server_id, name in servers
        ]
        chosen = getattr(self, "cleaned_data", {}).get("server")
        if chosen and chosen not in {server_id for server_id, _name in servers}:
            choices.append((chosen, _("Server #%(id)s") % {"id": chosen}))
        self.fields["server"].widget.choices = choices


class TwoFactorCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Six-digit code from your authenticator app"),
        min_length=6,
        max_length=8,
        strip=True,
        widget=forms.TextInput(attrs=CODE_INPUT),
    )

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].replace(" ", "")
        if not code.isdigit():
            raise forms.ValidationError(_("The code is made of digits only."))
        return code
