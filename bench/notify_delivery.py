"""Notifications under a receiver that fails half its requests: events raised vs deliveries made.

The whole stack; one signed-webhook target pointing at a local receiver that answers half of
its requests with an error (every second one): in turn before it records the delivery (the
sender must try again) and after (a repeat the receiver must drop by delivery id). 20 servers x 5
creates (smoke: 4 x 5) each raise one "create.succeeded" event. Target: every event delivered
(0 lost) and, after de-duplication by delivery id, each exactly once (0 duplicated).

Retries back off from 1 s (``NOTIFY_RETRY_BACKOFF_SECONDS=1``) over up to 12 attempts; pausing
is pushed out of the way (``NOTIFY_PAUSE_AFTER_FAILURES=1000``): this measures the retries.

    python bench/notify_delivery.py [--smoke]
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import running_stack, smoke_mode, start_creates
from tests.notify_receiver import Receiver

SECRET = "bench-shared-secret-0123456789abcdef"
ENV = {
    "NOTIFY_RETRY_BACKOFF_SECONDS": "1",
    "NOTIFY_MAX_ATTEMPTS": "12",
    "NOTIFY_PAUSE_AFTER_FAILURES": "1000",
}


def main() -> int:
    servers = 4 if smoke_mode() else 20
    receiver = Receiver(alternate=True).start()
    try:
        with running_stack(create_seconds=2, extra_env=ENV) as stack:
            stack.manage_shell(
                "from snapshots_ui.models import NotificationTarget as T; "
                f"T.objects.create(name='bench', kind='webhook', address='{receiver.url}/hook', "
                f"secret='{SECRET}', event_types=['create.succeeded'])"
            )
            session = stack.login()
            started = time.monotonic()
            start_creates(stack, session, servers=servers, per_server=5)
            creates = servers * 5
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                pending = stack.query(
                    "SELECT COUNT(*) FROM snapshots_ui_delivery WHERE state IN ('pending', 'held')"
                )[0][0]
                raised = stack.query(
                    "SELECT COUNT(*) FROM snapshots_ui_notificationevent "
                    "WHERE type = 'create.succeeded'"
                )[0][0]
                if raised >= creates and pending == 0:
                    break
                time.sleep(1)
            elapsed = time.monotonic() - started
            states = dict(
                stack.query("SELECT state, COUNT(*) FROM snapshots_ui_delivery GROUP BY state")
            )
            attempts = stack.query("SELECT SUM(attempts) FROM snapshots_ui_delivery")[0][0] or 0
    finally:
        receiver.stop()
    return report(creates, raised, states, attempts, receiver, elapsed)


def report(creates, raised, states, attempts, receiver, elapsed) -> int:  # type: ignore[no-untyped-def]
    by_id = Counter(item.headers["X-Dashboard-Delivery"] for item in receiver.received)
    event_of = {item.headers["X-Dashboard-Delivery"]: item.json["event"]["id"]
                for item in receiver.received}  # fmt: skip
    per_event = Counter(event_of.values())
    delivered = states.get("delivered", 0)
    lost = raised - len(per_event)
    duplicated_raw = sum(count - 1 for count in by_id.values())
    duplicated = sum(count - 1 for count in per_event.values())
    print(
        f"notifications: {creates} creates, receiver failing half of its requests "
        f"({receiver.failed} of {receiver.requests} answered with an error)"
    )
    print(f"  events raised                 : {raised}")
    print(f"  deliveries made (dashboard)   : {delivered} delivered, states {states}")
    print(
        f"  attempts                      : {attempts} ({attempts / max(1, raised):.2f} a delivery)"
    )
    print(
        f"  received 2xx-or-recorded      : {len(receiver.received)} requests, "
        f"{duplicated_raw} repeats of a delivery id"
    )
    print(f"  after de-duplication by id    : {len(by_id)} deliveries for {len(per_event)} events")
    print(f"  lost                          : {lost}")
    print(f"  duplicated after de-duplication: {duplicated}")
    print(f"  time from the first create to the last delivery: {elapsed:.0f} s")
    ok = raised == creates and lost == 0 and duplicated == 0 and delivered == raised
    print(f"  target 0 lost, 0 duplicated: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
