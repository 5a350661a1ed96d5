"""The one module that speaks HTTP to the hosting provider's Snapshots API.

Everything else in the project calls the functions at the bottom of this module and gets
frozen dataclasses back, or one of the ``ProviderError`` subclasses. No ``requests`` exception
escapes, every call has a connect and a read timeout, and the API token never appears in a
message or a log line.

The API is described in PROVIDER_API.md; where it is silent this client is liberal: unknown
fields are ignored, missing optional ones tolerated, ``next`` links followed, and error bodies
of any shape read for the provider's own words.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

logger = logging.getLogger(__name__)

# Pages followed at most in one listing; a provider whose `next` never ends is a bad answer.
MAX_PAGES = 1000
# A GET waits inline for a Retry-After up to this long; a longer wait goes back to the caller.
MAX_INLINE_RETRY_AFTER_SECONDS = 2.0
MAX_MESSAGE_LENGTH = 500


# --- Errors ---------------------------------------------------------------------------------


class ProviderError(Exception):
    """Base of every failure talking to the provider; ``message`` is safe to show a user."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class ProviderUnavailable(ProviderError):
    """Retry later: timeout, connection error, 5xx, 429, or an answer that cannot be read."""

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class ProviderUnauthorized(ProviderError):
    """401/403: the API token is missing, wrong or revoked. Retrying will not help."""


class ProviderNotFound(ProviderError):
    """404: the server or snapshot does not exist (any more)."""


class ProviderRejected(ProviderError):
    """Any other 4xx: the provider refused the request and said why in ``message``."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        field_errors: Mapping[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.field_errors = dict(field_errors or {})


# --- Results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerRef:
    id: int
    name: str


@dataclass(frozen=True)
class Server:
    id: int
    name: str
    # "running", "stopped", "restoring", ...; None when only known from the snapshot list.
    status: str | None


@dataclass(frozen=True)
class Snapshot:
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
    snapshot: Snapshot
    message: str


@dataclass(frozen=True)
class RestoreStarted:
    snapshot_id: int
    server: ServerRef
    server_status: str
    message: str


# --- Parsing --------------------------------------------------------------------------------


class _BadPayload(Exception):
    pass


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _BadPayload("boolean where an id was expected")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise _BadPayload(f"not an integer: {value!r:.40}") from exc


def _as_optional_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _as_text(value: Any) -> str:
    return "" if value is None else str(value)


def _as_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _server_ref(value: Any, *, fallback_id: int | None = None) -> ServerRef:
    if isinstance(value, Mapping):
        return ServerRef(id=_as_int(value.get("id")), name=_as_text(value.get("name")))
    if value is not None:  # a bare id
        return ServerRef(id=_as_int(value), name="")
    if fallback_id is not None:
        return ServerRef(id=fallback_id, name="")
    raise _BadPayload("snapshot without a server")


def _snapshot(item: Any, *, server_id: int | None = None) -> Snapshot:
    if not isinstance(item, Mapping):
        raise _BadPayload("snapshot is not an object")
    server = _server_ref(item.get("server", item.get("server_id")), fallback_id=server_id)
    return Snapshot(
        id=_as_int(item.get("id")),
        server=server,
        name=_as_text(item.get("name")),
        status=_as_text(item.get("status")) or "unknown",
        size_mb=_as_optional_int(item.get("size_mb")),
        created_at=_as_datetime(item.get("created_at")),
        description=_as_text(item.get("description")),
    )


def _server(item: Any) -> Server:
    if not isinstance(item, Mapping):
        raise _BadPayload("server is not an object")
    status = item.get("status")
    return Server(
        id=_as_int(item.get("id")),
        name=_as_text(item.get("name")),
        status=_as_text(status) if status is not None else None,
    )


def _strip_html(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip()


def _provider_words(body: Any) -> tuple[str, dict[str, list[str]]]:
    """The human message and field errors in an error body of any of the usual shapes."""
    if isinstance(body, str):
        return body, {}
    if isinstance(body, list):
        return "; ".join(_as_text(item) for item in body if item), {}
    if not isinstance(body, Mapping):
        return "", {}
    for key in ("detail", "error", "message", "error_description", "non_field_errors"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value, {}
        if isinstance(value, list) and value:
            return "; ".join(_as_text(v) for v in value), {}
        if isinstance(value, Mapping):
            nested, fields = _provider_words(value)
            if nested:
                return nested, fields
    if isinstance(body.get("errors"), Mapping | list):
        return _provider_words(body["errors"])
    field_errors: dict[str, list[str]] = {}
    for field, value in body.items():
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            field_errors[str(field)] = list(value)
        elif isinstance(value, str):
            field_errors[str(field)] = [value]
    message = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in field_errors.items())
    return message, field_errors


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_MESSAGE_LENGTH else text[: MAX_MESSAGE_LENGTH - 1] + "…"


# --- HTTP -----------------------------------------------------------------------------------


class _ShortRetry(Retry):
    """urllib3's Retry that hands a long Retry-After back to the caller instead of sleeping.

    A page request must not block for a minute because the provider asked to wait; the
    caller gets ``ProviderUnavailable.retry_after`` and Celery does the waiting.
    """

    def increment(self, method=None, url=None, response=None, error=None, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        if response is not None and self.respect_retry_after_header:
            wait = self.get_retry_after(response)
            if wait is not None and wait > MAX_INLINE_RETRY_AFTER_SECONDS:
                raise MaxRetryError(kwargs.get("_pool"), url or "", ResponseError("retry later"))
        return super().increment(method, url, response, error, *args, **kwargs)


def _retry_policy() -> Retry:
    # POSTs are never retried (a timeout may mean the provider did it): GET only.
    return _ShortRetry(
        total=2,
        connect=2,
        read=False,  # a read timeout is raised at once: the provider may be doing the work
        status=2,
        backoff_factor=0.25,
        status_forcelist=(429, 502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )


class ProviderSession(requests.Session):
    """A session that always sends the token and always applies a (connect, read) timeout."""

    def __init__(self, *, token: str, timeout: tuple[float, float]) -> None:
        super().__init__()
        self.timeout = timeout
        self.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": "snapshot-dashboard/1.0",
            }
        )
        adapter = HTTPAdapter(max_retries=_retry_policy())
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        kwargs["timeout"] = kwargs.get("timeout") or self.timeout
        return super().request(method, url, *args, **kwargs)


class ProviderClient:
    """The provider's API at ``base_url``; one instance may serve many calls."""

    def __init__(self, *, base_url: str, token: str, timeout: tuple[float, float]) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self.session = ProviderSession(token=token, timeout=timeout)

    # -- low level --

    def _url(self, path: str) -> str:
        return urljoin(self.base_url, path)

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, url, **kwargs)
        except requests.Timeout as exc:
            raise ProviderUnavailable(
                f"The provider did not answer within {self.timeout[1]:g} seconds."
            ) from exc
        except requests.ConnectionError as exc:
            raise ProviderUnavailable("The provider could not be reached.") from exc
        except requests.RequestException as exc:
            raise ProviderUnavailable("The request to the provider failed.") from exc

    def _check(self, response: requests.Response) -> None:
        """Raise the matching ProviderError for any non-2xx answer."""
        status = response.status_code
        if 200 <= status < 300:
            return
        words, field_errors = self._error_words(response)
        if status == 429:
            retry_after = _parse_retry_after(response.headers.get("Retry-After"))
            raise ProviderUnavailable(
                words or "The provider is rate limiting requests; retrying later.",
                status_code=status,
                retry_after=retry_after,
            )
        if status >= 500:
            raise ProviderUnavailable(
                words or f"The provider had an internal error (HTTP {status}).",
                status_code=status,
                retry_after=_parse_retry_after(response.headers.get("Retry-After")),
            )
        if status in (401, 403):
            raise ProviderUnauthorized(
                words or "The provider rejected the API token.", status_code=status
            )
        if status == 404:
            raise ProviderNotFound(words or "The provider has no such item.", status_code=status)
        raise ProviderRejected(
            words or f"The provider refused the request (HTTP {status}).",
            status_code=status,
            field_errors=field_errors,
        )

    @staticmethod
    def _error_words(response: requests.Response) -> tuple[str, dict[str, list[str]]]:
        content_type = response.headers.get("Content-Type", "")
        try:
            body = response.json()
        except ValueError:
            text = response.text or ""
            if "html" in content_type or text.lstrip().startswith("<"):
                return "", {}  # an error page from a proxy says nothing the user can act on
            return _clip(text), {}
        words, fields = _provider_words(body)
        return _clip(words), fields

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderUnavailable(
                "The provider sent an answer that could not be read.",
                status_code=response.status_code,
            ) from exc

    def _get_json(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        response = self._send("GET", url, params=params)
        self._check(response)
        return self._json(response)

    def _pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a list endpoint, following ``next`` links on the same host."""
        url: str | None = self._url(path)
        base = urlsplit(self.base_url)
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            if url is None:
                return
            body = self._get_json(url, params)
            params = None  # `next` already carries the query
            if isinstance(body, list):  # a provider that does not paginate at all
                yield from body
                return
            if not isinstance(body, Mapping) or not isinstance(body.get("results"), list):
                raise ProviderUnavailable("The provider sent a list that could not be read.")
            yield from body["results"]
            seen.add(url)
            next_url = body.get("next")
            if not next_url:
                return
            url = urljoin(url, str(next_url))
            target = urlsplit(url)
            if (target.scheme, target.netloc) != (base.scheme, base.netloc) or url in seen:
                raise ProviderUnavailable("The provider sent a page link that cannot be followed.")
        raise ProviderUnavailable("The provider's list did not end.")

    # -- the API --

    def list_snapshots(self, *, server_id: int | None = None) -> list[Snapshot]:
        params = {"server_id": server_id} if server_id is not None else None
        try:
            return [
                _snapshot(item, server_id=server_id) for item in self._pages("snapshots/", params)
            ]
        except _BadPayload as exc:
            raise ProviderUnavailable(
                "The provider sent a snapshot that could not be read."
            ) from exc

    def list_servers(self) -> list[Server]:
        """Every server; from the snapshot list when the provider has no ``/servers/``."""
        try:
            return [_server(item) for item in self._pages("servers/")]
        except ProviderNotFound:
            return servers_seen_in(self.list_snapshots())
        except _BadPayload as exc:
            raise ProviderUnavailable("The provider sent a server that could not be read.") from exc

    def get_server(self, *, server_id: int) -> Server:
        try:
            return _server(self._get_json(self._url(f"servers/{int(server_id)}/")))
        except ProviderNotFound:
            seen = servers_seen_in(self.list_snapshots(server_id=server_id))
            match = [server for server in seen if server.id == server_id]
            if not match:
                raise
            return match[0]
        except _BadPayload as exc:
            raise ProviderUnavailable("The provider sent a server that could not be read.") from exc

    def create_snapshot(
        self, *, server_id: int, name: str, description: str = ""
    ) -> SnapshotCreated:
        """Start a snapshot. Never retried: on ProviderUnavailable the caller reconciles."""
        payload: dict[str, Any] = {"server_id": int(server_id), "name": name}
        if description:
            payload["description"] = description
        response = self._send("POST", self._url("snapshots/"), json=payload)
        self._check(response)
        body = self._json(response)
        try:
            snapshot = _snapshot(body, server_id=server_id)
        except _BadPayload as exc:
            raise ProviderUnavailable(
                "The provider accepted the snapshot but its answer could not be read."
            ) from exc
        message = _as_text(body.get("message")) if isinstance(body, Mapping) else ""
        return SnapshotCreated(snapshot=snapshot, message=_clip(message))

    def restore_snapshot(self, *, snapshot_id: int) -> RestoreStarted:
        """Start a restore. Never retried: on ProviderUnavailable the caller reconciles."""
        response = self._send("POST", self._url(f"snapshots/{int(snapshot_id)}/restore/"))
        self._check(response)
        body = self._json(response)
        if not isinstance(body, Mapping):
            body = {}
        server = body.get("server") if isinstance(body.get("server"), Mapping) else {}
        snapshot = body.get("snapshot") if isinstance(body.get("snapshot"), Mapping) else {}
        return RestoreStarted(
            snapshot_id=_as_optional_int(snapshot.get("id")) or int(snapshot_id),
            server=ServerRef(
                id=_as_optional_int(server.get("id")) or 0, name=_as_text(server.get("name"))
            ),
            server_status=_as_text(server.get("status")) or "restoring",
            message=_clip(_as_text(body.get("message"))),
        )

    def delete_snapshot(self, *, snapshot_id: int) -> None:
        response = self._send("DELETE", self._url(f"snapshots/{int(snapshot_id)}/"))
        self._check(response)


def servers_seen_in(snapshots: list[Snapshot]) -> list[Server]:
    """The distinct servers named in a snapshot list, their state unknown."""
    by_id: dict[int, Server] = {}
    for snapshot in snapshots:
        by_id.setdefault(
            snapshot.server.id,
            Server(id=snapshot.server.id, name=snapshot.server.name, status=None),
        )
    return sorted(by_id.values(), key=lambda server: server.name)


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        from email.utils import parsedate_to_datetime

        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from django.utils import timezone

    return max(0.0, (when - timezone.now()).total_seconds())


def get_client() -> ProviderClient:
    """A client configured from settings (base URL, token, timeouts)."""
    return ProviderClient(
        base_url=settings.VPS_API_BASE_URL,
        token=settings.VPS_API_TOKEN,
        timeout=settings.VPS_API_TIMEOUT,
    )
