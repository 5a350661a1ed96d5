#!/usr/bin/env python3
"""Take a snapshot of a server before a deploy, wait until it has completed, and fail (exit 1)
if it did not: the CI job of "Snapshot before every deploy" in the README.

Needs Python 3.8+ and nothing else. Configure it with the environment:

  DASHBOARD_URL     the dashboard, e.g. https://snapshots.example.com
  DASHBOARD_TOKEN   an API token with the scopes read and create (account page → API tokens)
  SERVER_ID         the server to snapshot
  SNAPSHOT_NAME     optional; default before-deploy-<CI_COMMIT_SHORT_SHA or the time>
  WAIT_MINUTES      optional; how long to wait for "completed" (default 30)

The create is sent with an Idempotency-Key made from the server and the name, so a job that is
retried gets the first answer instead of a second snapshot.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request


def call(
    method: str, url: str, token: str, body: object = None, key: str = ""
) -> tuple[int, dict, dict]:
    """One request; returns (status, JSON body, headers). Errors come back the same way."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (http(s) only)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Idempotency-Key", key)
    try:
        with urllib.request.urlopen(request, timeout=90) as response:  # noqa: S310 (the URL is the operator's)
            return response.status, json.loads(response.read() or b"{}"), dict(response.headers)
    except urllib.error.HTTPError as error:
        text = error.read() or b"{}"
        try:
            payload = json.loads(text)
        except ValueError:
            payload = {"detail": text.decode(errors="replace")[:200]}
        return error.code, payload, dict(error.headers)


def fail(message: str) -> int:
    print(f"snapshot-before-deploy: {message}", file=sys.stderr)
    return 1


def main() -> int:
    base = os.environ["DASHBOARD_URL"].rstrip("/")
    if not base.startswith(("http://", "https://")):
        return fail("DASHBOARD_URL must start with http:// or https://")
    token = os.environ["DASHBOARD_TOKEN"]
    server = int(os.environ["SERVER_ID"])
    label = os.environ.get("CI_COMMIT_SHORT_SHA") or time.strftime("%Y%m%d-%H%M%S")
    name = os.environ.get("SNAPSHOT_NAME") or f"before-deploy-{label}"
    deadline = time.monotonic() + 60 * float(os.environ.get("WAIT_MINUTES", "30"))

    status, body, headers = 0, {}, {}
    for _attempt in range(5):  # the same key each time: a retry never makes a second snapshot
        status, body, headers = call(
            "POST",
            f"{base}/api/v1/servers/{server}/snapshots/",
            token,
            {"name": name, "description": "before a deploy"},
            key=f"snapshot-before-deploy:{server}:{name}",
        )
        if status not in (429, 503):
            break
        time.sleep(int(headers.get("Retry-After", "10")))
    if status != 202:
        return fail(f"the snapshot was not started ({status}): {body.get('detail', body)}")
    if body.get("operation") is None:
        return fail(
            "the server is full and a workflow replaces its oldest snapshot; not waited for"
        )
    operation = body["operation"]
    print(f"Snapshot “{name}” of {operation['server_name']} started (operation {operation['id']}).")

    wait_url = f"{base}{body['wait_url']}"
    while not operation["done"]:
        if time.monotonic() > deadline:
            return fail(f"not completed after {os.environ.get('WAIT_MINUTES', '30')} minutes")
        status, answer, headers = call("GET", wait_url, token)
        if status == 200:
            operation = answer
        elif status in (429, 502, 503, 504):
            time.sleep(int(headers.get("Retry-After", "5")))
        else:
            return fail(
                f"could not follow operation {operation['id']} ({status}): {answer.get('detail')}"
            )
    if not operation["succeeded"]:
        return fail(f"the snapshot did not complete: {operation['outcome'] or operation['error']}")
    print(f"Snapshot “{name}” completed: {operation['outcome']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
