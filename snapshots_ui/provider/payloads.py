"""What the provider's answers are turned into: frozen dataclasses that keep only the named
fields. Parsing is liberal: unknown fields are ignored, missing optional ones tolerated, and
error bodies of any shape read for the provider's own words."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# The longest provider message kept; longer ones are cut with an ellipsis.
MAX_MESSAGE_LENGTH = 500


@dataclass(frozen=True)
class ServerRef:
    """A server as a snapshot names it."""

    id: int
    name: str  # empty when the provider gives a bare id


@dataclass(frozen=True)
class Server:
    """A server of the account, from ``/servers/`` (or only named by a snapshot)."""

    id: int
    name: str
    # "running", "stopped", "restoring", ...; None when only known from the snapshot list.
    status: str | None


@dataclass(frozen=True)
class Snapshot:
    """One snapshot as the provider lists it."""

    id: int
    server: ServerRef
    name: str
    # Verbatim from the provider: "in_progress", "completed", "failed", or anything new.
    status: str
    size_mb: int | None
    created_at: datetime | None
    description: str


@dataclass(frozen=True)
class SnapshotCreated:
    """The answer to a create: the new snapshot and the provider's message."""

    snapshot: Snapshot
    message: str


@dataclass(frozen=True)
class RestoreStarted:
    """The answer to a restore: the server's state ("restoring") and the message."""

    server_status: str
    message: str


@dataclass(frozen=True)
class Page[T]:
    """One page of a list: its items, the list's length if the provider says, and whether
    another page follows."""

    items: list[T]
    count: int | None
    has_next: bool

    def pages_expected(self, read: int) -> int | None:
        """How many pages the whole list has, estimated from this page's size."""
        if not self.has_next:
            return read
        if not self.count or not self.items:
            return None
        return max(read + 1, -(-self.count // len(self.items)))


class BadPayload(Exception):
    pass


def as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise BadPayload("boolean where an id was expected")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise BadPayload(f"not an integer: {value!r:.40}") from exc


def as_optional_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def as_text(value: Any) -> str:
    return "" if value is None else str(value)


def as_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def server_ref(value: Any, *, fallback_id: int | None = None) -> ServerRef:
    if isinstance(value, Mapping):
        return ServerRef(id=as_int(value.get("id")), name=as_text(value.get("name")))
    if value is not None:  # a bare id
        return ServerRef(id=as_int(value), name="")
    if fallback_id is not None:
        return ServerRef(id=fallback_id, name="")
    raise BadPayload("snapshot without a server")


def parse_snapshot(item: Any, *, server_id: int | None = None) -> Snapshot:
    if not isinstance(item, Mapping):
        raise BadPayload("snapshot is not an object")
    server = server_ref(item.get("server", item.get("server_id")), fallback_id=server_id)
    return Snapshot(
        id=as_int(item.get("id")),
        server=server,
        name=as_text(item.get("name")),
        status=as_text(item.get("status")) or "unknown",
        size_mb=as_optional_int(item.get("size_mb")),
        created_at=as_datetime(item.get("created_at")),
        description=as_text(item.get("description")),
    )


def parse_server(item: Any) -> Server:
    if not isinstance(item, Mapping):
        raise BadPayload("server is not an object")
    status = item.get("status")
    return Server(
        id=as_int(item.get("id")),
        name=as_text(item.get("name")),
        status=as_text(status) if status is not None else None,
    )


def provider_words(body: Any) -> tuple[str, dict[str, list[str]]]:
    """The human message and field errors in an error body of any of the usual shapes."""
    if isinstance(body, str):
        return body, {}
    if isinstance(body, list):
        return "; ".join(as_text(item) for item in body if item), {}
    if not isinstance(body, Mapping):
        return "", {}
    for key in ("detail", "error", "message", "error_description", "non_field_errors"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value, {}
        if isinstance(value, list) and value:
            return "; ".join(as_text(v) for v in value), {}
        if isinstance(value, Mapping):
            nested, fields = provider_words(value)
            if nested:
                return nested, fields
    if isinstance(body.get("errors"), Mapping | list):
        return provider_words(body["errors"])
    field_errors: dict[str, list[str]] = {}
    for field, value in body.items():
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            field_errors[str(field)] = list(value)
        elif isinstance(value, str):
            field_errors[str(field)] = [value]
    message = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in field_errors.items())
    return message, field_errors


def clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_MESSAGE_LENGTH else text[: MAX_MESSAGE_LENGTH - 1] + "…"


def servers_seen_in(snapshots: list[Snapshot]) -> list[Server]:
    """The distinct servers named in a snapshot list, their state unknown."""
    by_id: dict[int, Server] = {}
    for snapshot in snapshots:
        by_id.setdefault(
            snapshot.server.id,
            Server(id=snapshot.server.id, name=snapshot.server.name, status=None),
        )
    return sorted(by_id.values(), key=lambda server: server.name)
