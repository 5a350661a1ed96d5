"""Accounts: who may log in, with which role, and the record of every account event.

Every event that concerns an account goes into the same append-only audit trail as the snapshot
actions, with the actor and their address: log-ins (and failed ones), lock-outs and unlocks,
log-outs, password changes and resets, two-factor on / off / reset, users created or
deactivated, role changes. Django's and django-axes' signals are connected in
``SnapshotsUiConfig.ready``.
"""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group
from django.db import transaction
from django.http import HttpRequest
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from snapshots_ui import roles
from snapshots_ui.audit import Actor, audit_record
from snapshots_ui.client_ip import client_ip
from snapshots_ui.models import AccountSettings, AuditEvent
from snapshots_ui.two_factor import totp_remove

# What each account event is called on the activity page.
EVENT_LABELS = {
    "account.login": gettext_lazy("Logged in"),
    "account.login.failed": gettext_lazy("Failed log-in"),
    "account.locked_out": gettext_lazy("Locked out"),
    "account.unlocked": gettext_lazy("Unlocked"),
    "account.logout": gettext_lazy("Logged out"),
    "account.password.changed": gettext_lazy("Password changed"),
    "account.password.reset": gettext_lazy("Password reset"),
    "account.two_factor.enabled": gettext_lazy("Two-factor login on"),
    "account.two_factor.disabled": gettext_lazy("Two-factor login off"),
    "account.two_factor.reset": gettext_lazy("Two-factor login reset by an Admin"),
    "account.user.created": gettext_lazy("User created"),
    "account.user.deactivated": gettext_lazy("User deactivated"),
    "account.user.reactivated": gettext_lazy("User reactivated"),
    "account.role.changed": gettext_lazy("Role changed"),
    "account.api_token.created": gettext_lazy("API token created"),
    "account.api_token.revoked": gettext_lazy("API token revoked"),
}

# Where a session's start and last activity are kept (epoch seconds); see middleware.
SESSION_STARTED_KEY = "dashboard_session_started"
SESSION_ACTIVITY_KEY = "dashboard_last_activity"


def request_actor(request: HttpRequest | None, user: AbstractBaseUser | None = None) -> Actor:
    """The person behind a request (or ``user``), with the address it came from."""
    if request is None:
        return Actor(user=user, ip=None)
    if user is None and getattr(request, "user", None) is not None:
        user = request.user if request.user.is_authenticated else None
    return Actor(user=user, ip=client_ip(request))


def account_event(*, actor: Actor, action: str, subject: str, detail: str = "") -> AuditEvent:
    """Record an account event (``action`` starts with ``account.``) about ``subject``."""
    return audit_record(actor=actor, action=action, subject=subject, detail=detail)


# --- Signals from Django and django-axes --------------------------------------------------------


def on_logged_in(
    sender: object, request: HttpRequest, user: AbstractBaseUser, **kwargs: Any
) -> None:
    request.session[SESSION_STARTED_KEY] = timezone.now().timestamp()
    request.session[SESSION_ACTIVITY_KEY] = timezone.now().timestamp()
    account_event(
        actor=request_actor(request, user), action="account.login", subject=user.get_username()
    )
    notice = two_factor_reset_notice(user)
    if notice is not None:
        messages.warning(
            request,
            _(
                "%(admin)s removed your authenticator app on %(when)s (for example after a lost "
                "phone). Set two-factor login up again from your account."
            )
            % {
                "admin": notice.two_factor_reset_by,
                "when": formats.date_format(notice.two_factor_reset_at, "DATETIME_FORMAT"),
            },
        )


def on_logged_out(
    sender: object, request: HttpRequest, user: AbstractBaseUser | None, **kwargs: Any
) -> None:
    if user is None:
        return
    account_event(
        actor=request_actor(request, user),
        action="account.logout",
        subject=user.get_username(),
        detail=getattr(request, "session_end_reason", ""),
    )


def on_login_failed(
    sender: object, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    account_event(
        actor=Actor(user=None, ip=client_ip(request) if request else None),
        action="account.login.failed",
        subject=str(credentials.get("username", "")),
    )


def on_locked_out(
    sender: object,
    request: HttpRequest | None = None,
    username: str | None = None,
    ip_address: str | None = None,
    **kwargs: Any,
) -> None:
    account_event(
        actor=Actor(user=None, ip=ip_address),
        action="account.locked_out",
        subject=username or "",
        detail="Too many failed log-ins; locked for the cool-off period.",
    )


# --- What Admins do to accounts -----------------------------------------------------------------


def account_unlock(*, actor: Actor, username: str = "", ip_address: str = "") -> int:
    """Lift the lock-out of a username and/or an address; returns how many lock-out records
    were cleared. The failed attempts stay in the audit trail and in the failure log."""
    cleared = AxesProxyHandler.reset_attempts(
        username=username or None, ip_address=ip_address or None
    )
    account_event(
        actor=actor,
        action="account.unlocked",
        subject=username,
        detail=f"address {ip_address}" if ip_address else "",
    )
    return cleared


def two_factor_reset(*, actor: Actor, user: AbstractBaseUser) -> None:
    """An Admin removes someone's authenticator (a lost phone); they are told at their next
    log-in and set it up again."""
    with transaction.atomic():
        totp_remove(user)
        notice = AccountSettings.of(user)
        notice.two_factor_reset_at = timezone.now()
        notice.two_factor_reset_by = actor.name
        notice.save(update_fields=["two_factor_reset_at", "two_factor_reset_by"])
        account_event(actor=actor, action="account.two_factor.reset", subject=user.get_username())


def two_factor_reset_notice(user: AbstractBaseUser) -> AccountSettings | None:
    """The reset to tell the person about, once: cleared as it is read."""
    notice = AccountSettings.objects.filter(user=user, two_factor_reset_at__isnull=False).first()
    if notice is None:
        return None
    AccountSettings.objects.filter(pk=notice.pk).update(two_factor_reset_at=None)
    return notice


def role_set(*, actor: Actor, user: AbstractBaseUser, role: str | None) -> None:
    """Give ``user`` exactly one role (or none); Admins also get Django admin access. The
    change is recorded when it changes anything."""
    before = roles.role_of(user)
    if before == role:
        return
    groups = Group.objects.filter(name__in=roles.ROLE_PERMISSIONS)
    user.groups.remove(*groups)  # type: ignore[attr-defined]
    if role:
        user.groups.add(Group.objects.get(name=role))  # type: ignore[attr-defined]
    if not user.is_superuser:  # type: ignore[attr-defined]
        user.is_staff = role == roles.ADMIN  # type: ignore[attr-defined]
        user.save(update_fields=["is_staff"])
    account_event(
        actor=actor,
        action="account.role.changed",
        subject=user.get_username(),
        detail=f"{before or 'no role'} -> {role or 'no role'}",
    )


def user_saved(*, actor: Actor, user: AbstractBaseUser, created: bool, was_active: bool) -> None:
    """Record a user created, deactivated or reactivated (from Django admin or a command)."""
    subject = user.get_username()
    if created:
        account_event(actor=actor, action="account.user.created", subject=subject)
    elif was_active and not user.is_active:
        account_event(actor=actor, action="account.user.deactivated", subject=subject)
    elif not was_active and user.is_active:
        account_event(actor=actor, action="account.user.reactivated", subject=subject)


def password_changed(*, request: HttpRequest, user: AbstractBaseUser, by_reset: bool) -> None:
    action = "account.password.reset" if by_reset else "account.password.changed"
    account_event(actor=request_actor(request, user), action=action, subject=user.get_username())


def two_factor_changed(*, request: HttpRequest, enabled: bool) -> None:
    action = "account.two_factor.enabled" if enabled else "account.two_factor.disabled"
    account_event(actor=request_actor(request), action=action, subject=request.user.get_username())
