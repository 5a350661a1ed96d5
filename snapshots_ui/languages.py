"""The language of the pages: the browser's (Accept-Language, read by Django's
LocaleMiddleware) unless the person chose one in the top bar, which is kept on their account
and, for the length of a session, in the session."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from snapshots_ui.models import AccountSettings

# The session's copy of the account's choice ("" once read and found empty).
SESSION_LANGUAGE_KEY = "dashboard_language"


def language_is_known(code: str) -> bool:
    return code in dict(settings.LANGUAGES)


def account_language_set(*, user: AbstractBaseUser, language: str) -> None:
    """Keep ``language`` ("" for the browser's) as the person's choice."""
    row = AccountSettings.of(user)
    row.language = language
    row.save(update_fields=["language"])


def _account_language(request: HttpRequest) -> str:
    if SESSION_LANGUAGE_KEY not in request.session:
        row = AccountSettings.objects.filter(user=request.user).only("language").first()
        request.session[SESSION_LANGUAGE_KEY] = row.language if row else ""
    return request.session[SESSION_LANGUAGE_KEY]


class AccountLanguageMiddleware:
    """After authentication: a logged-in person's chosen language wins over the browser's.
    The choice is read from the account once a session and then kept in the session."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            language = _account_language(request)
            if language_is_known(language):
                translation.activate(language)
                request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)
