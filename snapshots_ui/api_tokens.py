"""API tokens: made by their owner (or ``manage.py create_api_token``), shown once, stored as
a SHA-256 hash, limited to scopes the owner's role allows, revoked by the owner or an Admin.

The scopes are checked again at every use against the owner's role *then*: a token made by an
Operator who has since become a Viewer can only read. Making and revoking a token are account
events in the audit trail.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from snapshots_ui import roles
from snapshots_ui.audit import Actor, audit_record
from snapshots_ui.models import ApiScope, ApiToken
from snapshots_ui.refusals import ActionRefused

# A token reads ``sdt_<prefix>_<secret>``: the prefix finds its row, the whole is hashed.
TOKEN_PREFIX = "sdt_"  # noqa: S105 (the public part every token starts with)
_TOKEN_RE = re.compile(r"^sdt_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")
SCOPE_PERMISSIONS = {
    ApiScope.READ: roles.VIEW,
    ApiScope.CREATE: roles.CREATE,
    ApiScope.RESTORE: roles.RESTORE,
    ApiScope.DELETE: roles.DELETE,
}
TOKEN_NAME_RE = re.compile(r"^[A-Za-z0-9 ._-]{1,64}$")
MAX_EXPIRY_DAYS = 366


class TokenRefused(ActionRefused):
    """A token cannot be made or revoked as asked; ``message`` says why."""


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def scopes_allowed(user: AbstractBaseUser) -> list[str]:
    """The scopes a person's role allows now, in their order."""
    return [scope.value for scope, perm in SCOPE_PERMISSIONS.items() if user.has_perm(perm)]


def expiry_parse(text: str) -> timedelta | None:
    """``90d`` (days) or ``never`` → how long a token lasts; raises TokenRefused otherwise."""
    text = text.strip().lower()
    if text in ("never", "0", "0d"):
        return None
    match = re.fullmatch(r"(\d{1,3})d", text)
    if match is None or not 1 <= int(match[1]) <= MAX_EXPIRY_DAYS:
        raise TokenRefused(
            _("Give the expiry as a number of days from 1 to %(max)d, e.g. 90d, or never.")
            % {"max": MAX_EXPIRY_DAYS}
        )
    return timedelta(days=int(match[1]))


def _check_request(user: AbstractBaseUser, name: str, scopes: list[str]) -> list[str]:
    if not TOKEN_NAME_RE.fullmatch(name):
        raise TokenRefused(
            _("Name the token with 1 to 64 letters, digits, spaces, dots, dashes or underscores.")
        )
    unknown = [s for s in scopes if s not in ApiScope.values]
    if unknown or not scopes:
        raise TokenRefused(
            _("Choose at least one scope among: %(scopes)s.") % {"scopes": ", ".join(ApiScope)}
        )
    beyond = [s for s in scopes if s not in scopes_allowed(user)]
    if beyond:
        raise TokenRefused(
            _("Your role does not allow the scope(s) %(scopes)s; a token can never do more.")
            % {"scopes": ", ".join(beyond)}
        )
    return [s for s in ApiScope.values if s in scopes]


def api_token_create(
    *,
    actor: Actor,
    user: AbstractBaseUser,
    name: str,
    scopes: list[str],
    lifetime: timedelta | None,
) -> tuple[ApiToken, str]:
    """Make a token; returns it with the only copy of its secret (shown once)."""
    name = name.strip()
    ordered = _check_request(user, name, scopes)
    prefix = secrets.token_hex(6)
    raw = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    expires_at = timezone.now() + lifetime if lifetime else None
    try:
        with transaction.atomic():
            token = ApiToken.objects.create(
                user=user, name=name, prefix=prefix, token_hash=_hash(raw),
                scopes=",".join(ordered), expires_at=expires_at,
            )  # fmt: skip
            audit_record(
                actor=actor, action="account.api_token.created", subject=user.get_username(),
                detail=_describe(token),
            )  # fmt: skip
    except IntegrityError as exc:
        raise TokenRefused(
            _("You already have a token named “%(name)s”; choose another name or revoke it.")
            % {"name": name}
        ) from exc
    return token, raw


def _describe(token: ApiToken) -> str:
    expires = f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "no expiry"
    return f"token “{token.name}”, scopes {token.scopes}, {expires}"


def api_token_revoke(*, actor: Actor, token: ApiToken) -> ApiToken:
    """The owner or an Admin revokes a token; it stops working at once."""
    user = actor.user
    if user is None or (user.pk != token.user_id and roles.role_of(user) != roles.ADMIN):
        raise TokenRefused(_("Only the token's owner or an Admin can revoke it."))
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by_name=actor.name
        )
        if revoked:
            audit_record(
                actor=actor, action="account.api_token.revoked",
                subject=token.user.get_username(), detail=_describe(token),
            )  # fmt: skip
    token.refresh_from_db()
    return token


def api_token_authenticate(raw: str, *, ip: str | None) -> ApiToken | None:
    """The live token this string is, with its owner active; records its use. None otherwise."""
    match = _TOKEN_RE.fullmatch(raw)
    if match is None:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=match[1]).first()
    if token is None or not hmac.compare_digest(token.token_hash, _hash(raw)):
        return None
    if not token.is_live or not token.user.is_active:
        return None
    now = timezone.now()
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=ip)
    token.last_used_at, token.last_used_ip = now, ip
    return token


def api_token_allows(token: ApiToken, scope: str) -> bool:
    """The token has the scope and its owner's role allows it now."""
    return scope in token.scope_list and token.user.has_perm(SCOPE_PERMISSIONS[ApiScope(scope)])


def api_tokens_visible_to(user: AbstractBaseUser) -> QuerySet[ApiToken]:
    """A person's own tokens; an Admin sees everyone's (to revoke them)."""
    tokens = ApiToken.objects.select_related("user")
    if roles.role_of(user) == roles.ADMIN:
        return tokens
    return tokens.filter(user=user)
