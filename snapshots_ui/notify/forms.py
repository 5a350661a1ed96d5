"""The target form (its address and secret are never rendered back) and a person's own
subscription."""

from __future__ import annotations

from urllib.parse import urlsplit

import apprise
from django import forms
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from snapshots_ui.models import NotificationTarget, Subscription, SubscriptionScope, TargetKind
from snapshots_ui.notify import catalogue
from snapshots_ui.notify.targets import masked_address


class TargetForm(forms.ModelForm):
    """Leaving the address (of a webhook or Apprise target) or the secret empty when editing
    keeps the stored one: neither is ever shown again."""

    address = forms.CharField(
        label=_("Address"), required=False, widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text=_("Email: addresses separated by commas. Webhook: the https:// URL it posts "
                    "to. Apprise: a URL such as slack://…, msteams://…, discord://…, json://…"),
    )  # fmt: skip
    secret = forms.CharField(
        label=_("Signing secret"), required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Webhooks only: the shared secret the receiver checks signatures with "
                    "(at least 16 characters, e.g. from “openssl rand -hex 32”)."),
    )  # fmt: skip
    event_types = forms.MultipleChoiceField(
        label=_("Event types"), required=False, choices=catalogue.type_choices,
        widget=forms.CheckboxSelectMultiple, help_text=_("None ticked: every type."),
    )  # fmt: skip
    server_pattern = forms.CharField(
        label=_("Servers"), required=False, max_length=255,
        help_text=_("A name pattern such as web-*; empty: every server (and events about none)."),
    )  # fmt: skip

    class Meta:
        model = NotificationTarget
        fields = ["name", "kind", "address", "secret", "event_types", "min_severity",
                  "server_pattern", "enabled"]  # fmt: skip
        labels = {"min_severity": _("Least severity"), "enabled": _("Enabled")}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._stored_address = self.instance.address if self.instance.pk else ""
        self.fields["address"].never_optional = True  # required, but may be kept as stored
        if self.instance.pk and self.instance.kind != TargetKind.EMAIL:
            self.initial["address"] = ""
            self.fields["address"].widget.attrs["placeholder"] = masked_address(self.instance)
            self.fields["address"].help_text = _("Leave empty to keep the stored address.")
        self.initial["secret"] = ""
        if self.instance.pk and self.instance.secret:
            self.fields["secret"].help_text = _("Leave empty to keep the stored secret.")

    def clean(self) -> dict[str, object]:
        data = super().clean()
        kind, address = data.get("kind"), (data.get("address") or "").strip()
        if not address and self.instance.pk and kind == self.instance.kind:
            address = self._stored_address
        if not address:
            self.add_error("address", _("Say where to send notifications."))
            return data
        self._check_address(str(kind), address)
        data["address"] = address
        secret = data.get("secret") or self.instance.secret
        if kind == TargetKind.WEBHOOK and len(secret or "") < 16:
            self.add_error(
                "secret", _("A webhook needs a signing secret of 16 characters or more.")
            )
        data["secret"] = secret if kind == TargetKind.WEBHOOK else ""
        return data

    def _check_address(self, kind: str, address: str) -> None:
        if kind == TargetKind.EMAIL:
            for one in address.replace(";", ",").split(","):
                try:
                    validate_email(one.strip())
                except forms.ValidationError:
                    self.add_error("address", _("Not an email address: %(a)s") % {"a": one})
        elif kind == TargetKind.WEBHOOK:
            parts = urlsplit(address)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                self.add_error("address", _("A webhook address is an http:// or https:// URL."))
        elif not apprise.Apprise().add(address):
            self.add_error("address", _("Apprise does not recognise this URL."))


class SubscriptionForm(forms.ModelForm):
    class Meta:
        model = Subscription
        fields = ["scope", "server_pattern"]
        labels = {"scope": _("Email me about"), "server_pattern": _("Servers matching")}
        widgets = {"scope": forms.RadioSelect}
        help_texts = {"server_pattern": _("For “all operations on servers matching”: web-*")}

    def clean(self) -> dict[str, object]:
        data = super().clean()
        if data.get("scope") == SubscriptionScope.MATCHING and not data.get("server_pattern"):
            self.add_error("server_pattern", _("Give a pattern such as web-*."))
        return data
