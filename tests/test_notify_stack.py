"""Notifications through the whole stack: a real Celery worker (with its beat) follows the
operations at the simulator and delivers to a local HTTP receiver: signed webhooks for a
finished create, a failed restore and a stuck operation; an Apprise ``json://`` target; retries;
a target paused after repeated failures, with the Admins' banner."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from provider_sim.models import SimServer, SimSnapshot
from snapshots_ui import services
from snapshots_ui.audit import Actor
from snapshots_ui.models import Delivery, NotificationEvent, NotificationTarget, Operation
from tests.notify_receiver import Receiver
from tests.service_helpers import completed_snapshot
from tests.views.helpers import EMPTY, REPLICA, WEB, visible_text

pytestmark = pytest.mark.stack

SECRET = "a-shared-secret-of-32-characters"
NOTIFY = {"NOTIFY_RETRY_BACKOFF_SECONDS": "1", "NOTIFY_PAUSE_AFTER_FAILURES": "3",
          "VPS_STUCK_POLL_SECONDS": "1"}  # fmt: skip


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


def wait_for(condition: Callable[[], bool], *, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.3)


def verified(headers: dict[str, str], body: bytes) -> bool:
    timestamp = headers["X-Dashboard-Timestamp"]
    mac = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(headers["X-Dashboard-Signature"], f"v1={mac.hexdigest()}")


def hook(receiver: Receiver, name: str = "hook", **fields: object) -> NotificationTarget:
    return NotificationTarget.objects.create(
        name=name, kind="webhook", address=f"{receiver.url}/hook", secret=SECRET, **fields
    )


def test_signed_webhooks_for_a_create_a_failed_restore_and_a_stuck_operation(
    seeded_simulator, own_worker, operator, settings, receiver
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 1
    settings.VPS_SIM_RESTORE_SECONDS = 1
    hook(receiver)
    port = receiver.url.rsplit(":", 1)[1]
    NotificationTarget.objects.create(
        name="chat", kind="apprise", address=f"json://127.0.0.1:{port}/apprise",
        event_types=["restore.failed"],
    )  # fmt: skip
    actor = Actor(user=operator, ip=None)
    restore = services.snapshot_restore(actor=actor, snapshot_id=completed_snapshot(REPLICA).id)
    SimServer.objects.filter(pk=REPLICA).update(status_after_restore="error")
    services.snapshot_create(actor=actor, server_id=WEB, name="notify-done")
    stuck = services.snapshot_create(actor=actor, server_id=EMPTY, name="notify-stuck")
    SimSnapshot.objects.filter(server_id=EMPTY, name="notify-stuck").update(
        complete_at=timezone.now() + timedelta(days=1)
    )
    Operation.objects.filter(pk=stuck.pk).update(started_at=timezone.now() - timedelta(hours=2))
    own_worker("notify", **NOTIFY).start()

    wait_for(lambda: len(receiver.received) >= 4)

    hooks = [r for r in receiver.received if r.path == "/hook"]
    assert sorted(r.headers["X-Dashboard-Event"] for r in hooks) == [
        "create.stuck", "create.succeeded", "restore.failed"]  # fmt: skip
    assert all(verified(r.headers, r.body) for r in hooks)
    assert len({r.json["delivery_id"] for r in hooks}) == 3
    failed = next(r.json["event"] for r in hooks if r.json["event"]["type"] == "restore.failed")
    assert failed["severity"] == "error"
    assert failed["actor"] == operator.username
    assert failed["server"] == {"id": REPLICA, "name": restore.server_name}
    (chat,) = [r for r in receiver.received if r.path == "/apprise"]
    assert chat.json["type"] == "failure"
    assert chat.json["title"].startswith("Restore failed: ")
    assert set(Delivery.objects.values_list("state", flat=True)) == {"delivered"}


def test_retries_deliver_and_repeated_failures_pause_the_target(
    seeded_simulator, own_worker, operator, admin_user, admin_client, settings, receiver
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 1
    failing = Receiver(fail_first=10_000).start()
    try:
        hook(receiver, name="flaky", event_types=["create.succeeded"])
        broken = hook(failing, name="broken")
        receiver.fail_first = 2
        services.snapshot_create(actor=Actor(user=operator, ip=None), server_id=WEB, name="retry")
        own_worker("notify", **NOTIFY).start()

        wait_for(lambda: len(receiver.received) >= 1 and failing.requests >= 3)
        wait_for(lambda: NotificationTarget.objects.get(pk=broken.pk).is_paused, seconds=20)
    finally:
        failing.stop()

    assert len(receiver.received) == 1
    assert receiver.requests == 3  # two failures, then delivered
    delivered = Delivery.objects.get(target__name="flaky")
    assert (delivered.state, delivered.attempts) == ("delivered", 3)
    assert NotificationTarget.objects.get(pk=broken.pk).is_paused
    assert Delivery.objects.get(target=broken, event__type="create.succeeded").state == "held"
    alert = NotificationEvent.objects.get(type="notify.target_paused")
    assert Delivery.objects.filter(event=alert, user=admin_user).exists()
    banner = visible_text(admin_client.get("/"))
    assert "Notification target “broken” is paused" in banner
    page = admin_client.get(f"/notifications/targets/{broken.pk}/").text
    assert f"{failing.url}/hook" not in page
    assert SECRET not in page
