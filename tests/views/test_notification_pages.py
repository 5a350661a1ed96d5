"""The notification pages: a target's address and secret are never rendered and are kept when
left empty, NOTIFY_URLS targets are read-only, the log stops refreshing when nothing is in
flight, and everyone saves their own subscription."""

from __future__ import annotations

from snapshots_ui.models import NotificationTarget, Subscription
from tests.views.helpers import htmx_headers

ADDRESS = "https://hooks.example.com/services/T0/B0/very-secret-token"
SECRET = "the-signing-secret-0123456789"


def webhook() -> NotificationTarget:
    return NotificationTarget.objects.create(
        name="ops", kind="webhook", address=ADDRESS, secret=SECRET
    )


def test_a_target_page_shows_neither_the_address_nor_the_secret(admin_client) -> None:
    target = webhook()

    for path in ("/notifications/", f"/notifications/targets/{target.pk}/"):
        body = admin_client.get(path).content.decode()
        assert "very-secret-token" not in body
        assert SECRET not in body
        assert "https://hooks.example.com/…" in body


def test_saving_with_the_address_and_secret_left_empty_keeps_them(admin_client) -> None:
    target = webhook()

    response = admin_client.post(
        f"/notifications/targets/{target.pk}/",
        {"name": "ops renamed", "kind": "webhook", "address": "", "secret": "",
         "min_severity": "warning", "server_pattern": "web-*", "enabled": "on"},
    )  # fmt: skip

    assert response.status_code == 302
    target.refresh_from_db()
    assert (target.name, target.address, target.secret) == ("ops renamed", ADDRESS, SECRET)
    assert (target.min_severity, target.server_pattern) == ("warning", "web-*")


def test_an_apprise_url_is_checked(admin_client) -> None:
    response = admin_client.post(
        "/notifications/targets/new/",
        {"name": "chat", "kind": "apprise", "address": "nonsense://x", "min_severity": "info"},
    )

    assert response.status_code == 400
    assert "Apprise does not recognise this URL." in response.content.decode()


def test_a_target_from_notify_urls_is_read_only(admin_client) -> None:
    target = NotificationTarget.objects.create(
        name="NOTIFY_URLS #abc", kind="apprise", address="json://127.0.0.1:9/x", from_env=True
    )

    assert (
        admin_client.post(f"/notifications/targets/{target.pk}/", {"name": "x"}).status_code == 400
    )
    assert "read-only" in admin_client.get(f"/notifications/targets/{target.pk}/").content.decode()


def test_the_log_stops_refreshing_when_nothing_is_in_flight(admin_client) -> None:
    response = admin_client.get("/notifications/", headers=htmx_headers())

    assert response.status_code == 286
    assert 'id="delivery-log"' in response.content.decode()


def test_anyone_chooses_their_own_email(viewer_client, viewer) -> None:
    response = viewer_client.post(
        "/account/notifications/", {"scope": "matching", "server_pattern": "db-*"}
    )

    assert response.status_code == 302
    assert Subscription.objects.get(user=viewer).server_pattern == "db-*"
