"""Plain HTTP clients for the compose smoke test: the dashboard as a browser behind the TLS
proxy sees it, and the simulator's API. Standard library only (it runs on the host)."""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse
from dataclasses import dataclass

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    text: str
    set_cookies: list[str]


def request(
    port: int, method: str, path: str, *, headers: dict[str, str], body: bytes | None = None
) -> Response:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        text = answer.read().decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in answer.getheaders()}
        cookies = [v for k, v in answer.getheaders() if k.lower() == "set-cookie"]
        return Response(answer.status, headers, text, cookies)
    finally:
        connection.close()


class Browser:
    """A browser reaching web through the TLS proxy of the README: the proxy sends the public
    host name, ``X-Forwarded-Proto: https`` and the client's address. Cookies are kept by hand:
    production marks them Secure, which a cookie jar would not send over plain HTTP."""

    def __init__(self, *, port: int, host: str) -> None:
        self.port = port
        self.host = host
        self.cookies: dict[str, str] = {}

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {
            "Host": self.host,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "203.0.113.10",
            "Origin": f"https://{self.host}",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {**headers, **(extra or {})}

    def _keep_cookies(self, response: Response) -> None:
        for cookie in response.set_cookies:
            name, _, rest = cookie.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]

    def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        response = request(self.port, "GET", path, headers=self._headers(headers))
        self._keep_cookies(response)
        return response

    def post(self, path: str, data: dict[str, str], *, referer: str) -> Response:
        body = urllib.parse.urlencode(data).encode()
        extra = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": f"https://{self.host}{referer}",
        }
        response = request(self.port, "POST", path, headers=self._headers(extra), body=body)
        self._keep_cookies(response)
        return response

    def form_post(self, page: str, path: str, data: dict[str, str]) -> Response:
        """GETs ``page`` for its CSRF token, then POSTs ``data`` to ``path``."""
        found = CSRF_INPUT.search(self.get(page).text)
        if not found:
            raise AssertionError(f"no CSRF token on {page}")
        return self.post(path, {**data, "csrfmiddlewaretoken": found[1]}, referer=page)

    def log_in(self, username: str, password: str) -> None:
        self.cookies.clear()
        answer = self.form_post("/login/", "/login/", {"username": username, "password": password})
        if answer.status != 302 or answer.headers.get("location", "").startswith("/login"):
            raise AssertionError(f"login refused: HTTP {answer.status}")


class Simulator:
    """The simulator's provider API and its ``/_sim/`` controls, on its published port."""

    def __init__(self, *, port: int, token: str) -> None:
        self.port = port
        self.token = token

    def call(self, method: str, path: str) -> object:
        headers = {"Authorization": f"Bearer {self.token}", "Host": "localhost"}
        answer = request(self.port, method, path, headers=headers)
        if not 200 <= answer.status < 300:
            where = answer.headers.get("location", "")
            raise AssertionError(f"simulator {method} {path}: HTTP {answer.status} {where}")
        return json.loads(answer.text) if answer.text else None

    def servers(self) -> list[dict[str, object]]:
        return self.call("GET", "/api/v1/servers/?page=1")["results"]  # type: ignore[index]

    def snapshot_count(self, server_id: int) -> int:
        page = self.call("GET", f"/api/v1/snapshots/?server_id={server_id}")
        return int(page["count"])  # type: ignore[index]

    def snapshot_status(self, server_id: int, name: str) -> str:
        page = self.call("GET", f"/api/v1/snapshots/?server_id={server_id}")
        found = [s["status"] for s in page["results"] if s["name"] == name]  # type: ignore[index]
        return found[0] if found else "missing"

    def calls(self) -> dict[str, int]:
        return self.call("GET", "/_sim/stats/")["by_endpoint"]  # type: ignore[index]

    def calls_reset(self) -> None:
        self.call("DELETE", "/_sim/stats/")
