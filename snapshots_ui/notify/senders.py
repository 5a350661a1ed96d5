"""Sending one notification: email, the signed webhook, Apprise.

Each sender returns a ``Sent`` and raises nothing. Its ``error`` is written for the delivery
log and never holds a secret: no URL, token, signing secret or SMTP password, whatever the
library's own message said (``scrub`` removes any that slipped in).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import apprise
import requests
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from snapshots_ui.models import NotificationEvent, NotificationTarget

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Dashboard-Signature"
TIMESTAMP_HEADER = "X-Dashboard-Timestamp"
DELIVERY_HEADER = "X-Dashboard-Delivery"
EVENT_HEADER = "X-Dashboard-Event"
USER_AGENT = "snapshot-dashboard-webhook/1"
_APPRISE_TYPES = {"info": "info", "warning": "warning", "error": "failure"}


@dataclass(frozen=True)
class Sent:
    ok: bool
    status_code: int | None = None
    error: str = ""


def scrub(text: str, *secrets: str) -> str:
    """``text`` without any of ``secrets`` (nor their URL's path and query)."""
    for secret in secrets:
        if not secret:
            continue
        text = text.replace(secret, "…")
        parts = urlsplit(secret)
        for piece in (parts.path, parts.query, parts.password or ""):
            if len(piece) > 1:
                text = text.replace(piece, "…")
    return text[:500]


def event_document(event: NotificationEvent, *, delivery_id: str, test: bool) -> dict:
    """The webhook body (README, "Notifications")."""
    return {
        "delivery_id": delivery_id,
        "test": test,
        "event": {
            "id": event.pk,
            "type": event.type,
            "severity": event.severity,
            "title": event.title,
            "detail": event.detail,
            "server": {"id": event.server_id, "name": event.server_name}
            if event.server_id is not None or event.server_name
            else None,
            "snapshot": {"id": event.snapshot_id, "name": event.snapshot_name}
            if event.snapshot_id is not None or event.snapshot_name
            else None,
            "actor": event.actor_name,
            "url": event_url(event),
            "occurred_at": event.created_at.isoformat(),
        },
    }


def event_url(event: NotificationEvent) -> str:
    return f"{settings.DASHBOARD_BASE_URL}{event.path}" if event.path else ""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over ``<timestamp>.<body>``, as ``v1=<hex>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def webhook_send(target: NotificationTarget, event: NotificationEvent, *, delivery_id: str,
                 test: bool) -> Sent:  # fmt: skip
    body = json.dumps(
        event_document(event, delivery_id=delivery_id, test=test), ensure_ascii=False
    ).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        DELIVERY_HEADER: delivery_id,
        EVENT_HEADER: event.type,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(target.secret, timestamp, body),
    }
    try:
        response = requests.post(
            target.address, data=body, headers=headers, timeout=settings.NOTIFY_TIMEOUT,
            allow_redirects=False,
        )  # fmt: skip
    except requests.Timeout:
        return Sent(ok=False, error="The receiver did not answer in time.")
    except requests.ConnectionError:
        return Sent(ok=False, error="The receiver could not be reached.")
    except requests.RequestException as exc:
        return Sent(ok=False, error=f"The request failed ({type(exc).__name__}).")
    if 200 <= response.status_code < 300:
        return Sent(ok=True, status_code=response.status_code)
    reason = scrub(response.text[:200], target.address, target.secret)
    return Sent(ok=False, status_code=response.status_code, error=f"HTTP {response.status_code}"
                + (f": {' '.join(reason.split())}" if reason.strip() else ""))  # fmt: skip


def apprise_send(target: NotificationTarget, event: NotificationEvent, *, test: bool) -> Sent:
    """One Apprise URL; its own per-target result and log say how it went."""
    notifier = apprise.Apprise()
    if not notifier.add(target.address):
        return Sent(ok=False, error="Apprise does not understand this URL.")
    result = notifier.notify(
        title=event.title,
        body=text_body(event, test=test),
        notify_type=_APPRISE_TYPES.get(event.severity, "info"),
        timeout=settings.NOTIFY_TIMEOUT[1] * 2,
    )
    if result:
        return Sent(ok=True)
    messages = [str(getattr(entry, "message", entry)) for r in result.results for entry in r.logs()]
    error = " ".join(messages[-2:]) or "The service did not accept the notification."
    return Sent(ok=False, error=scrub(error, target.address))


def text_body(event: NotificationEvent, *, test: bool) -> str:
    return render_to_string(
        "snapshots_ui/notify/message.txt", {"event": event, "url": event_url(event), "test": test}
    )


def email_send(addresses: list[str], event: NotificationEvent, *, test: bool) -> Sent:
    """A UTF-8 mail with a plain-text and an HTML part."""
    context = {"event": event, "url": event_url(event), "test": test}
    prefix = {"error": "✖", "warning": "⚠"}.get(event.severity, "✔")
    message = EmailMultiAlternatives(
        subject=f"[Snapshots] {prefix} {event.title}"[:250],
        body=render_to_string("snapshots_ui/notify/message.txt", context),
        to=addresses,
    )
    message.attach_alternative(render_to_string("snapshots_ui/notify/message.html", context),
                               "text/html")  # fmt: skip
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        error = f"The mail server refused the message ({type(exc).__name__})."
        return Sent(ok=False, error=scrub(error, settings_password()))
    return Sent(ok=True)


def settings_password() -> str:
    options = getattr(settings, "MAILERS", {}).get("default", {}).get("OPTIONS", {})
    return options.get("password", "")
