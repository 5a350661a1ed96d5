"""Parsing what a provider that differs in detail from the spec answers (payloads, page links,
error bodies), from fake responses, without the simulator."""

from __future__ import annotations

from typing import Any

import pytest

from snapshots_ui import provider
from snapshots_ui.provider import ProviderClient, ProviderRejected, ProviderUnavailable


class FakeResponse:
    def __init__(self, status: int, body: Any = None, *, text: str | None = None, headers=None):
        self.status_code = status
        self._body = body
        self.text = text if text is not None else ("" if body is None else str(body))
        self.headers = headers or {"Content-Type": "application/json"}

    def json(self) -> Any:
        if self._body is None:
            raise ValueError("no json")
        return self._body


def fake_client(monkeypatch, pages: dict[str, FakeResponse]) -> ProviderClient:
    client = ProviderClient(base_url="https://provider.example/api/v1/", token="t", timeout=(1, 1))

    def send(method: str, url: str, **kwargs: Any) -> FakeResponse:
        key = url + (
            "?" + "&".join(f"{k}={v}" for k, v in kwargs["params"].items())
            if kwargs.get("params")
            else ""
        )
        return pages[key]

    monkeypatch.setattr(client, "_send", send)
    return client


def test_unknown_fields_are_ignored_and_missing_optional_ones_tolerated(monkeypatch) -> None:
    client = fake_client(
        monkeypatch,
        {
            "https://provider.example/api/v1/snapshots/": FakeResponse(
                200,
                {
                    "count": 1,
                    "results": [
                        {
                            "id": "7",
                            "server": {"id": 1, "name": "a", "zone": "x"},
                            "name": "n",
                            "status": "archiving",
                            "created_at": "not a date",
                            "labels": ["x"],
                        },
                    ],
                    "extra": True,
                },
            )
        },
    )

    [snapshot] = client.list_snapshots()

    assert snapshot == provider.Snapshot(
        id=7,
        server=provider.ServerRef(id=1, name="a"),
        name="n",
        status="archiving",
        size_mb=None,
        created_at=None,
        description="",
    )


def test_next_link_to_another_host_is_not_followed(monkeypatch) -> None:
    client = fake_client(
        monkeypatch,
        {
            "https://provider.example/api/v1/snapshots/": FakeResponse(
                200, {"count": 2, "next": "https://evil.example/steal", "results": []}
            )
        },
    )

    with pytest.raises(ProviderUnavailable, match="page link"):
        client.list_snapshots()


def test_next_link_that_loops_is_not_followed_forever(monkeypatch) -> None:
    url = "https://provider.example/api/v1/snapshots/"
    client = fake_client(monkeypatch, {url: FakeResponse(200, {"next": url, "results": []})})

    with pytest.raises(ProviderUnavailable):
        client.list_snapshots()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"detail": "Server is not in a valid state."}, "Server is not in a valid state."),
        ({"error": {"message": "Nested words."}}, "Nested words."),
        ({"errors": ["first", "second"]}, "first; second"),
        ({"name": ["Too long."]}, "name: Too long."),
        (["plain", "list"], "plain; list"),
    ],
)
def test_error_words_from_various_shapes(monkeypatch, body: Any, expected: str) -> None:
    client = fake_client(
        monkeypatch,
        {"https://provider.example/api/v1/snapshots/1/restore/": FakeResponse(400, body)},
    )

    with pytest.raises(ProviderRejected) as rejected:
        client.restore_snapshot(snapshot_id=1)

    assert rejected.value.message == expected


def test_error_without_a_body_gets_a_plain_sentence(monkeypatch) -> None:
    client = fake_client(
        monkeypatch,
        {"https://provider.example/api/v1/snapshots/1/": FakeResponse(409, None, text="")},
    )

    with pytest.raises(ProviderRejected) as rejected:
        client.delete_snapshot(snapshot_id=1)

    assert rejected.value.message == "The provider refused the request (HTTP 409)."
