"""Notifications in-process: events raised once from the audit trail, matchers, personal
subscriptions, signed webhooks, UTF-8 mail, retries, pausing, and no secret in any result."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone

from snapshots_ui import fleet_cache, polling, provider, services
from snapshots_ui.audit import SYSTEM, Actor, audit_record
from snapshots_ui.models import (
    Delivery,
    DeliveryState,
    NotificationEvent,
    NotificationTarget,
    Schedule,
    SnapshotRecord,
    Subscription,
    SubscriptionScope,
    TargetKind,
)
from snapshots_ui.notify import deliveries, events, senders, targets, watch
from snapshots_ui.statuses import OperationState
from tests.factories import OperationFactory, ScheduleFactory, UserFactory, WorkflowFactory
from tests.notify_receiver import Receiver
from tests.service_helpers import WEB


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    running = Receiver().start()
    yield running
    running.stop()


def webhook(receiver: Receiver, **fields: object) -> NotificationTarget:
    return targets.target_save(
        actor=SYSTEM,
        target=NotificationTarget(
            name=fields.pop("name", "hook"), kind=TargetKind.WEBHOOK,
            address=f"{receiver.url}/hooks/s3cr3t-path", **fields,
        )
    )  # fmt: skip


def finish(operation, state: str = OperationState.SUCCEEDED):  # type: ignore[no-untyped-def]
    operation.state = state
    operation.save()
    return audit_record(actor=SYSTEM, action=f"operation.{state}", operation=operation)


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The README's example verifier."""
    timestamp = headers["X-Dashboard-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(headers["X-Dashboard-Signature"], f"v1={expected.hexdigest()}")


def test_an_audit_record_raises_one_event_with_one_delivery_per_matching_target(db) -> None:
    everything = NotificationTarget.objects.create(name="all", kind="email", address="a@x.org")
    NotificationTarget.objects.create(
        name="errors", kind="email", address="b@x.org", min_severity="error"
    )
    NotificationTarget.objects.create(
        name="db only", kind="email", address="c@x.org", server_pattern="db-*"
    )
    NotificationTarget.objects.create(
        name="restores", kind="email", address="d@x.org", event_types=["restore.failed"]
    )
    operation = OperationFactory(server_name="web-server-01")

    audit = finish(operation)

    event = NotificationEvent.objects.get()
    assert (event.key, event.type, event.severity) == (
        f"audit:{audit.pk}",
        "create.succeeded",
        "info",
    )
    assert event.server_name == "web-server-01"
    assert event.path == f"/servers/{operation.server_id}/"
    assert [d.target for d in Delivery.objects.all()] == [everything]


def test_events_of_no_interest_raise_nothing(db) -> None:
    audit_record(actor=SYSTEM, action="operation.recheck", operation=OperationFactory())
    audit_record(actor=SYSTEM, action="account.login", subject="omar")

    assert not NotificationEvent.objects.exists()


def test_a_poll_that_runs_twice_raises_and_delivers_once(
    seeded_simulator, queued_polls, settings, operator
) -> None:
    NotificationTarget.objects.create(name="all", kind="email", address="a@x.org")
    settings.VPS_SIM_CREATE_SECONDS = 0
    services.snapshot_create(actor=Actor(user=operator, ip=None), server_id=WEB, name="twice")

    polling.operations_poll_server(server_id=WEB)
    polling.operations_poll_server(server_id=WEB)

    assert NotificationEvent.objects.filter(type="create.succeeded").count() == 1
    assert Delivery.objects.count() == 1
    assert (
        events.event_raise(
            events.EventData(
                key=NotificationEvent.objects.get().key, type="create.succeeded", title="again"
            )
        )
        is None
    )


def test_a_signed_webhook_that_the_receiver_can_verify_and_deduplicate(db, receiver) -> None:
    target = webhook(receiver)
    finish(OperationFactory(kind="restore", snapshot_name="avant-mise-à-jour"), "failed")
    delivery = Delivery.objects.get()

    deliveries.delivery_attempt(str(delivery.pk), last=False)

    (got,) = receiver.received
    assert verify(target.secret, got.headers, got.body)
    assert not verify("another-secret", got.headers, got.body)
    assert got.headers["X-Dashboard-Delivery"] == str(delivery.pk) == got.json["delivery_id"]
    assert got.headers["X-Dashboard-Event"] == "restore.failed"
    assert got.json["event"]["severity"] == "error"
    assert got.json["event"]["snapshot"]["name"] == "avant-mise-à-jour"
    assert got.json["event"]["url"].endswith("/servers/12345/")
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.status_code) == ("delivered", 1, 200)


def test_a_delivered_notification_is_never_sent_again(db, receiver) -> None:
    webhook(receiver)
    finish(OperationFactory())
    delivery_id = str(Delivery.objects.get().pk)

    deliveries.delivery_attempt(delivery_id, last=False)
    deliveries.delivery_attempt(delivery_id, last=False)

    assert len(receiver.received) == 1


def test_mail_is_utf8_with_text_and_html(db) -> None:
    NotificationTarget.objects.create(name="team", kind="email", address="team@example.com")
    finish(OperationFactory(server_name="sérveur-01", snapshot_name="avant-mise-à-jour"))

    deliveries.delivery_attempt(str(Delivery.objects.get().pk), last=True)

    (message,) = mail.outbox
    assert message.subject == "[Snapshots] ✔ Snapshot taken: sérveur-01 / avant-mise-à-jour"
    assert message.to == ["team@example.com"]
    assert "Server: sérveur-01" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "<bdi>avant-mise-à-jour</bdi>" in html
    assert "utf-8" in message.message().as_string().lower()


def test_failures_retry_then_pause_the_target_hold_its_deliveries_and_tell_the_admins(
    db, receiver, settings, admin_user
) -> None:
    settings.NOTIFY_PAUSE_AFTER_FAILURES = 3
    receiver.fail_first = 100
    target = webhook(receiver)
    finish(OperationFactory())
    finish(OperationFactory())
    first, second = Delivery.objects.order_by("created_at")

    for _attempt in range(2):
        with pytest.raises(deliveries.DeliveryFailed, match="HTTP 503"):
            deliveries.delivery_attempt(str(first.pk), last=False)
    deliveries.delivery_attempt(str(first.pk), last=False)  # the third: paused, no retry

    target.refresh_from_db()
    assert target.is_paused
    assert set(Delivery.objects.filter(target=target).values_list("state", flat=True)) == {"held"}
    alert = NotificationEvent.objects.get(type="notify.target_paused")
    (to_admin,) = Delivery.objects.filter(event=alert, user__isnull=False)
    assert to_admin.user == admin_user
    deliveries.delivery_attempt(str(to_admin.pk), last=True)
    assert "Notification target paused: hook" in mail.outbox[0].subject

    receiver.fail_first = 0
    assert targets.target_resume(actor=SYSTEM, target=target) == 3  # two events and the alert
    deliveries.delivery_attempt(str(second.pk), last=False)
    second.refresh_from_db()
    assert second.state == DeliveryState.DELIVERED


def test_the_last_failed_attempt_is_recorded_as_failed(db, receiver) -> None:
    receiver.fail_first = 1
    webhook(receiver)
    finish(OperationFactory())
    delivery = Delivery.objects.get()

    deliveries.delivery_attempt(str(delivery.pk), last=True)

    delivery.refresh_from_db()
    assert (delivery.state, delivery.status_code, delivery.error) == ("failed", 503, "HTTP 503: no")


def test_no_secret_in_a_masked_address_or_an_error(db) -> None:
    slack = NotificationTarget(
        kind="apprise", address="slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
    )
    hook = NotificationTarget(kind="webhook", address="https://hooks.example.com/T0/s3cr3t?key=abc")

    assert "TIiajkdnlazkcOXrIdevi7FQ" not in targets.masked_address(slack)
    assert targets.masked_address(hook) == "https://hooks.example.com/…"
    unreachable = NotificationTarget(
        kind="webhook", address="http://127.0.0.1:9/h/s3cr3t", secret="k"
    )
    sent = senders.webhook_send(unreachable, NotificationEvent(type="notify.test", title="t",
                                created_at=timezone.now()), delivery_id="d", test=True)  # fmt: skip
    assert not sent.ok
    assert "s3cr3t" not in sent.error
    assert (
        senders.scrub("POST http://x/h/s3cr3t failed", unreachable.address)
        == "POST http://x… failed"
    )


def test_personal_subscriptions_mine_and_matching(db, operator, viewer) -> None:
    Subscription.objects.create(user=operator, scope=SubscriptionScope.MINE)
    Subscription.objects.create(
        user=viewer, scope=SubscriptionScope.MATCHING, server_pattern="db-*"
    )
    finish(OperationFactory(requested_by=operator, server_name="web-1"))
    finish(OperationFactory(requested_by=None, server_name="db-1"))

    web, db_event = NotificationEvent.objects.order_by("pk")
    assert [d.user for d in Delivery.objects.filter(event=web)] == [operator]
    assert [d.user for d in Delivery.objects.filter(event=db_event)] == [viewer]


def test_a_lock_out_and_a_skipped_run_are_events(db) -> None:
    audit_record(actor=SYSTEM, action="account.locked_out", subject="mallory")
    audit_record(actor=SYSTEM, action="schedule.run.skipped", subject="nightly",
                 server_id=1, server_name="web-1", detail="5 of 5 manual")  # fmt: skip

    assert list(NotificationEvent.objects.order_by("pk").values_list("type", "severity")) == [
        ("account.locked_out", "warning"), ("schedule.skipped", "warning")]  # fmt: skip


def test_provider_outage_is_raised_after_n_minutes_and_its_end_once(db, settings) -> None:
    settings.NOTIFY_PROVIDER_DOWN_MINUTES = 5
    now = timezone.now()
    fleet_cache.provider_problem_record(provider.ProviderUnavailable("connection refused"))

    watch.provider_watch(now=now)
    assert not NotificationEvent.objects.exists()
    watch.provider_watch(now=now + timedelta(minutes=6))
    watch.provider_watch(now=now + timedelta(minutes=7))
    fleet_cache.provider_problem_clear()
    watch.provider_watch(now=now + timedelta(minutes=8))
    watch.provider_watch(now=now + timedelta(minutes=9))

    assert list(NotificationEvent.objects.order_by("pk").values_list("type", flat=True)) == [
        "provider.unreachable", "provider.back"]  # fmt: skip


def test_a_rejected_token_is_raised_at_once(db) -> None:
    fleet_cache.provider_problem_record(provider.ProviderUnauthorized("401 Unauthorized"))

    watch.provider_watch(now=timezone.now())

    assert NotificationEvent.objects.get().type == "provider.token_rejected"


def test_targets_from_notify_urls_are_kept_in_step(db, settings) -> None:
    settings.NOTIFY_URLS = ["json://127.0.0.1:9/a", "mailto://u:p@example.com"]
    events.env_targets_sync()
    assert NotificationTarget.objects.filter(from_env=True).count() == 2
    assert not any("127.0.0.1" in t.name for t in NotificationTarget.objects.all())

    settings.NOTIFY_URLS = ["json://127.0.0.1:9/a"]
    events.env_targets_sync()
    assert NotificationTarget.objects.filter(from_env=True).count() == 1


def test_a_test_send_goes_to_its_target_alone(db, receiver) -> None:
    target = webhook(receiver)
    NotificationTarget.objects.create(name="other", kind="email", address="o@x.org")
    user = UserFactory()

    delivery = targets.target_test(target=target, actor_name=user.username)
    deliveries.delivery_attempt(str(delivery.pk), last=False)

    assert Delivery.objects.count() == 1
    assert receiver.received[0].json["test"] is True


def test_the_readme_verifier_accepts_a_delivery_once_and_refuses_a_forgery(db, receiver) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    code = readme.split("An example verifier", 1)[1].split("```python\n", 1)[1].split("```")[0]
    namespace: dict[str, object] = {}
    exec(code, namespace)  # noqa: S102 - the README's own example
    accept = namespace["accept"]
    target = webhook(receiver)
    finish(OperationFactory())
    deliveries.delivery_attempt(str(Delivery.objects.get().pk), last=True)
    (got,) = receiver.received

    assert accept(target.secret, got.headers, got.body) is True
    assert accept(target.secret, got.headers, got.body) is False  # a repeat
    assert accept(target.secret, got.headers, got.body + b" ") is False


def test_a_workflow_of_any_kind_is_notified_to_the_person_who_started_it(db, operator) -> None:
    Subscription.objects.create(user=operator, scope=SubscriptionScope.MINE)
    workflow = WorkflowFactory(kind="safe_restore", started_by=operator, server_name="web-1")

    audit_record(
        actor=SYSTEM, action="workflow.failed", subject=f"Safe restore #{workflow.pk}",
        server_id=workflow.server_id, server_name="web-1", detail="step 2 failed",
    )  # fmt: skip

    event = NotificationEvent.objects.get()
    assert (event.type, event.severity, event.actor) == ("workflow.failed", "error", operator)
    assert Delivery.objects.get().user == operator


def test_a_vanished_protected_snapshot_and_a_stale_schedule_are_raised_once(db) -> None:
    now = timezone.now()
    SnapshotRecord.objects.create(snapshot_id=7, server_id=1, server_name="web-1", name="keep",
                                  protected=True, gone_at=now)  # fmt: skip
    schedule = ScheduleFactory(interval_minutes=60, cron="")
    Schedule.objects.filter(pk=schedule.pk).update(last_success_at=now - timedelta(hours=5))

    for _tick in range(2):
        watch.protected_gone_watch(now=now)
        watch.stale_schedules_watch(now=now)

    assert sorted(NotificationEvent.objects.values_list("type", flat=True)) == [
        "schedule.stale", "snapshot.protected_gone"]  # fmt: skip
