"""Who is calling the API and what they may do: bearer tokens, scopes checked against the
owner's role at each call, and a rate limit per token."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request

from snapshots_ui import roles
from snapshots_ui.api_tokens import api_token_allows, api_token_authenticate
from snapshots_ui.client_ip import client_ip
from snapshots_ui.models import ApiToken


class TokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer sdt_…``. A missing header is "not authenticated" (401); a token
    that is unknown, revoked, expired or whose owner is deactivated is refused (401) alike."""

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _sep, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise exceptions.AuthenticationFailed(
                _("Send the token as “Authorization: Bearer <token>”.")
            )
        token = api_token_authenticate(raw.strip(), ip=client_ip(request._request))
        if token is None:
            raise exceptions.AuthenticationFailed(
                _("This token is not valid: it is unknown, revoked or expired.")
            )
        return token.user, token

    def authenticate_header(self, request: HttpRequest) -> str:
        return 'Bearer realm="api"'


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "snapshots_ui.api.access.TokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An API token (sdt_…)."}


class HasScope(permissions.BasePermission):
    """The view's ``scopes`` name the scope each method needs; the token must hold it and its
    owner's role must allow it now."""

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            raise exceptions.NotAuthenticated(
                _("Send an API token as “Authorization: Bearer <token>”.")
            )
        scope = view.scopes.get(request.method, "read")
        if scope not in token.scope_list:
            raise exceptions.PermissionDenied(
                _("This token does not have the “%(scope)s” scope.") % {"scope": scope}
            )
        if not api_token_allows(token, scope):
            raise exceptions.PermissionDenied(
                _(
                    "The token's owner (%(role)s) is no longer allowed to %(scope)s; ask an "
                    "administrator to change your role."
                )
                % {"role": roles.role_of(token.user) or _("no role"), "scope": scope}
            )
        return True


class TokenRateThrottle(throttling.SimpleRateThrottle):
    """``API_THROTTLE_RATE`` requests per token (e.g. ``120/min``), in the shared cache."""

    scope = "token"

    def get_rate(self) -> str:
        return str(settings.API_THROTTLE_RATE)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.auth, ApiToken):
            return None
        return f"api-throttle:{request.auth.pk}"
