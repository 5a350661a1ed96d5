"""The HTTP client of the provider's API: the only code in the project that speaks HTTP to it.

Every call has a connect and a read timeout. GETs are retried by urllib3's ``Retry`` on 429 and
502/503/504 with backoff, honouring ``Retry-After``; POSTs never are (a timeout may mean the
provider did it: the caller reconciles instead). ``next`` links are followed on the same host.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from django.utils import timezone
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from snapshots_ui.provider import budget, telemetry
from snapshots_ui.provider.errors import (
    ProviderNotFound,
    ProviderRejected,
    ProviderUnauthorized,
    ProviderUnavailable,
)
from snapshots_ui.provider.payloads import (
    BadPayload,
    Page,
    RestoreStarted,
    Server,
    Snapshot,
    SnapshotCreated,
    as_optional_int,
    as_text,
    clip,
    parse_server,
    parse_snapshot,
    provider_words,
    servers_seen_in,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawPage:
    items: list[Any]
    count: int | None  # the list's length as the provider states it, when it does
    has_next: bool


# Pages followed at most in one listing; a provider whose `next` never ends is a bad answer.
MAX_PAGES = 1000
# A GET waits inline for a Retry-After up to this long; a longer wait goes back to the caller.
MAX_INLINE_RETRY_AFTER_SECONDS = 2.0


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
        retry = super().increment(method, url, response, error, *args, **kwargs)
        if response is not None:
            budget.acquire()  # the retry is another request to the provider
        return retry


def _retry_policy() -> Retry:
    # POSTs are never retried (a timeout may mean the provider did it): GET only. A 429 is
    # not retried here either: it pauses every process (see ``budget.pause_for``).
    return _ShortRetry(
        total=2,
        connect=2,
        read=False,  # a read timeout is raised at once: the provider may be doing the work
        status=2,
        backoff_factor=0.25,
        status_forcelist=(502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )


class ProviderSession(requests.Session):
    """A session that always sends the token and always applies a (connect, read) timeout."""

    def __init__(self, *, token: str, timeout: tuple[float, float], base_path: str = "/") -> None:
        super().__init__()
        self.timeout = timeout
        self.base_path = base_path
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
        """One request within the provider budget, counted; a 429 pauses every process."""
        kwargs["timeout"] = kwargs.get("timeout") or self.timeout
        waited = budget.acquire()
        started = time.monotonic()
        status = "error"
        try:
            response = super().request(method, url, *args, **kwargs)
            status = str(response.status_code)
            if response.status_code == 429:
                retry_after = _parse_retry_after(response.headers.get("Retry-After"))
                budget.pause_for(
                    retry_after if retry_after is not None else settings.VPS_API_429_PAUSE_SECONDS
                )
            return response
        finally:
            path = urlsplit(url).path.removeprefix(self.base_path)
            telemetry.record_call(
                endpoint=telemetry.endpoint_of(method, path),
                status=status,
                seconds=time.monotonic() - started,
                kind=budget.current_class(),
                waited=waited,
            )


class ProviderClient:
    """The provider's API at ``base_url``; one instance may serve many calls."""

    def __init__(self, *, base_url: str, token: str, timeout: tuple[float, float]) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self.session = ProviderSession(
            token=token, timeout=timeout, base_path=urlsplit(self.base_url).path
        )

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
            return clip(text), {}
        words, fields = provider_words(body)
        return clip(words), fields

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

    def _raw_pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[RawPage]:
        """The pages of a list endpoint, following ``next`` links on the same host."""
        url: str | None = self._url(path)
        base = urlsplit(self.base_url)
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            if url is None:
                return
            body = self._get_json(url, params)
            params = None  # `next` already carries the query
            if isinstance(body, list):  # a provider that does not paginate at all
                yield RawPage(items=body, count=len(body), has_next=False)
                return
            if not isinstance(body, Mapping) or not isinstance(body.get("results"), list):
                raise ProviderUnavailable("The provider sent a list that could not be read.")
            seen.add(url)
            next_url = body.get("next")
            count = as_optional_int(body.get("count"))
            yield RawPage(items=body["results"], count=count, has_next=bool(next_url))
            if not next_url:
                return
            url = urljoin(url, str(next_url))
            target = urlsplit(url)
            if (target.scheme, target.netloc) != (base.scheme, base.netloc) or url in seen:
                raise ProviderUnavailable("The provider sent a page link that cannot be followed.")
        raise ProviderUnavailable("The provider's list did not end.")

    # -- the API --

    def snapshot_pages(self, *, server_id: int | None = None) -> Iterator[Page[Snapshot]]:
        """The snapshot list one page at a time (only one server's with ``server_id``)."""
        params = {"server_id": server_id} if server_id is not None else None
        try:
            for raw in self._raw_pages("snapshots/", params):
                items = [parse_snapshot(item, server_id=server_id) for item in raw.items]
                yield Page(items=items, count=raw.count, has_next=raw.has_next)
        except BadPayload as exc:
            raise ProviderUnavailable(
                "The provider sent a snapshot that could not be read."
            ) from exc

    def server_pages(self) -> Iterator[Page[Server]]:
        """The server list one page at a time; raises ProviderNotFound when the provider has
        no ``/servers/`` (then ``list_servers`` falls back to the snapshot list)."""
        try:
            for raw in self._raw_pages("servers/"):
                yield Page(
                    items=[parse_server(item) for item in raw.items],
                    count=raw.count,
                    has_next=raw.has_next,
                )
        except BadPayload as exc:
            raise ProviderUnavailable("The provider sent a server that could not be read.") from exc

    def list_snapshots(self, *, server_id: int | None = None) -> list[Snapshot]:
        return [s for page in self.snapshot_pages(server_id=server_id) for s in page.items]

    def list_servers(self) -> list[Server]:
        """Every server; from the snapshot list when the provider has no ``/servers/``."""
        try:
            return [server for page in self.server_pages() for server in page.items]
        except ProviderNotFound:
            return servers_seen_in(self.list_snapshots())

    def get_server(self, *, server_id: int) -> Server:
        try:
            return parse_server(self._get_json(self._url(f"servers/{int(server_id)}/")))
        except ProviderNotFound:
            seen = servers_seen_in(self.list_snapshots(server_id=server_id))
            match = [server for server in seen if server.id == server_id]
            if not match:
                raise
            return match[0]
        except BadPayload as exc:
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
            snapshot = parse_snapshot(body, server_id=server_id)
        except BadPayload as exc:
            raise ProviderUnavailable(
                "The provider accepted the snapshot but its answer could not be read."
            ) from exc
        message = as_text(body.get("message")) if isinstance(body, Mapping) else ""
        return SnapshotCreated(snapshot=snapshot, message=clip(message))

    def restore_snapshot(self, *, snapshot_id: int) -> RestoreStarted:
        """Start a restore. Never retried: on ProviderUnavailable the caller reconciles."""
        response = self._send("POST", self._url(f"snapshots/{int(snapshot_id)}/restore/"))
        self._check(response)
        body = self._json(response)
        if not isinstance(body, Mapping):
            body = {}
        server = body.get("server") if isinstance(body.get("server"), Mapping) else {}
        return RestoreStarted(
            server_status=as_text(server.get("status")) or "restoring",
            message=clip(as_text(body.get("message"))),
        )

    def delete_snapshot(self, *, snapshot_id: int) -> None:
        response = self._send("DELETE", self._url(f"snapshots/{int(snapshot_id)}/"))
        self._check(response)


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


def get_client() -> ProviderClient:
    """A client configured from settings (base URL, token, timeouts)."""
    return ProviderClient(
        base_url=settings.VPS_API_BASE_URL,
        token=settings.VPS_API_TOKEN,
        timeout=settings.VPS_API_TIMEOUT,
    )
