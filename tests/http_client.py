"""A person's browser, without the browser: HTTP to the live server with cookies and CSRF."""

from __future__ import annotations

import re
from typing import Any

import requests

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class WebClient:
    """Cookies kept between requests; POSTs carry the CSRF token as a form would."""

    def __init__(self, base_url: str, **headers: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update(headers)

    def url(self, path: str) -> str:
        return self.base_url + path

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        return self.session.get(self.url(path), timeout=30, **kwargs)

    def post(
        self, path: str, data: dict[str, Any] | None = None, **kwargs: Any
    ) -> requests.Response:
        """POST a form the way the page would: the CSRF cookie and field, a same-origin
        Referer."""
        if "csrftoken" not in self.session.cookies:
            self.session.get(self.url("/login/"), timeout=30)
        form = {"csrfmiddlewaretoken": self.session.cookies["csrftoken"], **(data or {})}
        kwargs.setdefault("allow_redirects", False)
        headers = {"Referer": self.url(path), **kwargs.pop("headers", {})}
        return self.session.post(self.url(path), data=form, headers=headers, timeout=30, **kwargs)

    def log_in(self, username: str, password: str) -> requests.Response:
        return self.post("/login/", {"username": username, "password": password})

    @property
    def session_key(self) -> str | None:
        return self.session.cookies.get("sessionid")
