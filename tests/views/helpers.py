"""Constants and helpers the page tests share: the demo data's ids, the provider's endpoints
and messages, and readers of responses and of the simulator."""

from __future__ import annotations

import csv
import html
import io
import re
from collections import Counter

from django.http import HttpResponse, StreamingHttpResponse

from provider_sim import controls
from provider_sim.models import SimSnapshot
from provider_sim.seed import DEMO_SNAPSHOTS
from snapshots_ui.models import Operation

# The demo data (provider_sim/seed.py).
WEB = 12345  # web-server-01: running, completed snapshots 801 (newest) and 798
WEB_NAME = "web-server-01"
NEWEST = 801
OLDER = 798
REPLICA = 12351  # db-replica: 5 of 5 snapshots
PRIMARY = 12350  # db-primary: stopped; snapshot 800 failed
FAILED_SNAPSHOT = 800
EMPTY = 12360  # staging-app: no snapshots at all

CREATE_CALL = "POST /api/v1/snapshots/"
RESTORE_CALL = "POST /api/v1/snapshots/{id}/restore/"
DELETE_CALL = "DELETE /api/v1/snapshots/{id}/"

FRIENDLY_403 = "You are not allowed to do that"
PROVIDER_DOWN = "The provider is not answering right now."
TOKEN_REJECTED = "The provider rejected the dashboard's API token."


def page_text(response: HttpResponse) -> str:
    """The body with HTML entities decoded, for comparing with sentences the user reads."""
    return html.unescape(response.content.decode())


INLINE_TAGS = r"/?(?:a|abbr|b|bdi|code|em|small|span|strong|time)\b"


def visible_text(response: HttpResponse) -> str:
    """What a reader sees: the body without its tags (inline ones run into their words, the
    others part them), entities decoded, spaces collapsed."""
    body = re.sub(rf"<{INLINE_TAGS}[^>]*>", "", response.content.decode())
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def provider_calls(endpoint: str | None = None) -> int:
    """Requests the simulator received: all of them, or those of one endpoint."""
    counts = controls.call_counts()
    return counts["calls"] if endpoint is None else counts["by_endpoint"].get(endpoint, 0)


def htmx_headers(target: str | None = None) -> dict[str, str]:
    headers = {"HX-Request": "true"}
    if target:
        headers["HX-Target"] = target
    return headers


def fleet_rows(response: HttpResponse) -> dict[int, str]:
    """The fleet table's rows as text, by server id."""
    rows: dict[int, str] = {}
    for row in re.findall(r"<tr>(.*?)</tr>", response.content.decode(), flags=re.DOTALL):
        if match := re.search(r'href="/servers/(\d+)/"', row):
            rows[int(match[1])] = html.unescape(re.sub(r"<[^>]+>", " ", row))
    return rows


def snapshot_row_ids(response: HttpResponse) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="snapshot-(\d+)">', response.content.decode())]


def field_block(response: HttpResponse, field_id: str) -> str:
    """The rendered form field (label, input, help, errors) whose input has ``field_id``."""
    match = re.search(
        rf'<div class="field[^"]*">\s*<label for="{field_id}">.*?</div>',
        response.content.decode(),
        flags=re.DOTALL,
    )
    assert match, f"no field {field_id} on the page"
    return match[0]


def audit_actions(operation: Operation) -> list[str]:
    return list(operation.audit_events.order_by("id").values_list("action", flat=True))


def sim_snapshot_count(server_id: int) -> int:
    return SimSnapshot.objects.filter(server_id=server_id).count()


def demo_snapshot_counts() -> Counter[int]:
    return Counter(server_id for _, server_id, *_rest in DEMO_SNAPSHOTS)


def csv_rows(response: StreamingHttpResponse) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()  # type: ignore[arg-type]
    return list(csv.reader(io.StringIO(body)))
