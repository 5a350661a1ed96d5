"""The authorisation matrix's data: for every URL the dashboard serves, what each role gets
for GET, for POST and for PUT, PATCH and DELETE (checked by ``test_authorisation.py``).

Django admin is one key (``admin``) for the pages that only show data; each of its views that
changes data (add, change, delete, a user's password) has a key and rows of its own.
Placeholders in paths (``{user}``, ``{operation}``, ...) stand for objects the test makes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.views.helpers import EMPTY, NEWEST, OLDER, WEB, WEB_NAME


@dataclass(frozen=True)
class Answer:
    """What one role gets for one request: a status, and for a redirect where it leads."""

    status: int
    # For redirects; "{path}" stands for the requested path, URL-quoted.
    location: str | None = None
    # A refusal in plain text (for machines) rather than the friendly page.
    plain: bool = False


OK = Answer(200)
INVALID = Answer(400)
DENIED = Answer(403)  # always the dashboard's friendly 403 page
DENIED_PLAIN = Answer(403, plain=True)  # a plain-text refusal for machines
NO_METHOD = Answer(405)
LOGIN = Answer(302, "/login/?next={path}")
ADMIN_LOGIN = Answer(302, "/admin/login/?next={path}")
ADMIN_DENIED = Answer(403, plain=True)  # Django admin's own refusal, not the dashboard's page

ROLES = ("anonymous", "viewer", "operator", "admin_user")
# One answer per role, in the order of ROLES.
Row = tuple[Answer, Answer, Answer, Answer]


def everyone(answer: Answer) -> Row:
    return (answer, answer, answer, answer)


def to(location: str) -> Answer:
    return Answer(302, location)


@dataclass(frozen=True)
class Route:
    """One URL of the dashboard with the answers each role gets for GET, POST and the rest.

    ``key`` names the URL pattern (``namespace:name``, or the route of an unnamed one;
    ``admin`` for the pages of Django admin that only show data, ``admin:<name>`` for those
    that change it). ``post=None``: POST is not part of the matrix. ``others`` is the answer to
    each of PUT, PATCH and DELETE, which nothing in the dashboard serves.
    """

    key: str
    path: str
    get: Row
    post: Row | None
    data: dict[str, str] = field(default_factory=dict)
    others: Row = (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD)


HOME = to("/")
TO_SERVER = to(f"/servers/{WEB}/")
TO_WORKFLOW_SERVER = to(f"/servers/{EMPTY}/")
TO_SCHEDULES = to("/schedules/")
NOT_FOUND = Answer(404)
FAVICON = Answer(301, "/static/img/favicon.svg")
STAFF_ONLY: Row = (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, OK)
ANY_ROLE: Row = (LOGIN, OK, OK, OK)
ADMINS_ONLY: Row = (LOGIN, DENIED, DENIED, OK)
TO_TARGET = to("/notifications/targets/{target}/")

# Django admin's views that change data, for an Admin (staff, with the role's permissions and
# no more; not a superuser). Everyone else is sent to the admin's login page. An Admin manages
# users (not deleting them: deactivating) and the security policy; the audit trail, operations
# and lock-outs are read-only there; groups (the roles) and authenticators are out of reach.
ADMIN_SEES: Row = (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, OK)
ADMIN_MAY_NOT: Row = (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_DENIED)
ADMIN_CHANGES: Row = (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, to("/admin/auth/user/"))
NEW_PASSWORD = "Matrix-check-2026!"


def _read_only(app: str, model: str, placeholder: str) -> list[Route]:
    """add, change and delete of a model an Admin may only look at."""
    base = f"/admin/{app}/{model}/"
    return [
        Route(f"admin:{app}_{model}_add", f"{base}add/", ADMIN_MAY_NOT, ADMIN_MAY_NOT),
        Route(f"admin:{app}_{model}_change", f"{base}{{{placeholder}}}/change/",
              ADMIN_SEES, ADMIN_MAY_NOT),
        Route(f"admin:{app}_{model}_delete", f"{base}{{{placeholder}}}/delete/",
              ADMIN_MAY_NOT, ADMIN_MAY_NOT, data={"post": "yes"}),
    ]  # fmt: skip


def _out_of_reach(app: str, model: str, placeholder: str) -> list[Route]:
    """add, change and delete of a model an Admin may not even look at."""
    base = f"/admin/{app}/{model}/"
    return [
        Route(f"admin:{app}_{model}_add", f"{base}add/", ADMIN_MAY_NOT, ADMIN_MAY_NOT),
        Route(f"admin:{app}_{model}_change", f"{base}{{{placeholder}}}/change/",
              ADMIN_MAY_NOT, ADMIN_MAY_NOT),
        Route(f"admin:{app}_{model}_delete", f"{base}{{{placeholder}}}/delete/",
              ADMIN_MAY_NOT, ADMIN_MAY_NOT, data={"post": "yes"}),
    ]  # fmt: skip


# fmt: off
ADMIN_ROUTES: list[Route] = [
    # One's own password (a wrong old one: the form again).
    Route("admin:password_change", "/admin/password_change/", ADMIN_SEES, ADMIN_SEES,
          data={"old_password": "not-it", "new_password1": "x", "new_password2": "x"}),
    Route("admin:auth_user_add", "/admin/auth/user/add/", ADMIN_SEES,
          (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, Answer(302)),  # to the new user's page
          data={"username": "matrix-new", "usable_password": "true",
                "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}),
    Route("admin:auth_user_change", "/admin/auth/user/{user}/change/", ADMIN_SEES, ADMIN_CHANGES,
          data={"username": "matrix-renamed", "role": "Viewer", "is_active": "on"}),
    Route("admin:auth_user_delete", "/admin/auth/user/{user}/delete/", ADMIN_MAY_NOT,
          ADMIN_MAY_NOT, data={"post": "yes"}),
    Route("admin:auth_user_password_change", "/admin/auth/user/{user}/password/", ADMIN_SEES,
          (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, to("/admin/auth/user/{user}/change/")),
          data={"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}),
    Route("admin:snapshots_ui_securitypolicy_add", "/admin/snapshots_ui/securitypolicy/add/",
          ADMIN_MAY_NOT, ADMIN_MAY_NOT),  # there is one already
    Route("admin:snapshots_ui_securitypolicy_change",
          "/admin/snapshots_ui/securitypolicy/{policy}/change/", ADMIN_SEES,
          (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, to("/admin/snapshots_ui/securitypolicy/")),
          data={"require_two_factor": "on"}),
    Route("admin:snapshots_ui_securitypolicy_delete",
          "/admin/snapshots_ui/securitypolicy/{policy}/delete/", ADMIN_MAY_NOT, ADMIN_MAY_NOT,
          data={"post": "yes"}),
    *_read_only("snapshots_ui", "operation", "operation"),
    *_read_only("snapshots_ui", "auditevent", "auditevent"),
    *_read_only("axes", "accessattempt", "accessattempt"),
    *_read_only("axes", "accessfailurelog", "accessfailurelog"),
    *_read_only("auth", "group", "group"),
    *_out_of_reach("axes", "accesslog", "accesslog"),
    *_out_of_reach("otp_totp", "totpdevice", "totpdevice"),
]
# fmt: on

# Each row: url key, path, GET answers, POST answers (anonymous, viewer, operator, admin).
# fmt: off
ROUTES: list[Route] = [
    # Login, logout and password reset: open to everyone.
    Route("login", "/login/", (OK, HOME, HOME, HOME), (OK, HOME, HOME, HOME)),
    Route("logout", "/logout/", everyone(NO_METHOD), everyone(to("/login/"))),
    # The second login step: users without an authenticator have nothing to verify and go
    # on to the fleet. Its set-up: any logged-in user (a wrong code is a 400).
    Route("two_factor_verify", "/login/verify/", (LOGIN, HOME, HOME, HOME),
          (LOGIN, HOME, HOME, HOME), data={"code": "000000"}),
    # API tokens: any logged-in user has the page (an empty name is a 400); revoking a token
    # that is not one's own is a 404, except for Admins.
    Route("api_tokens", "/account/tokens/", ANY_ROLE, (LOGIN, INVALID, INVALID, INVALID),
          data={"name": ""}),
    Route("api_token_revoke", "/account/tokens/{token}/revoke/", everyone(NO_METHOD),
          (LOGIN, NOT_FOUND, NOT_FOUND, to("/account/tokens/"))),
    # The language switch in the top bar: for everyone, the log-in page included.
    Route("language_set", "/language/", everyone(NO_METHOD), everyone(HOME),
          data={"language": "ar"}),
    Route("two_factor_setup", "/account/two-factor/", ANY_ROLE,
          (LOGIN, INVALID, INVALID, INVALID), data={"code": "000000"}),
    # Changing one's password: any logged-in user (a wrong old password shows the form again).
    Route("password_change", "/account/password/", ANY_ROLE, ANY_ROLE,
          data={"old_password": "not-it", "new_password1": "x", "new_password2": "x"}),
    Route("password_reset", "/password-reset/", everyone(OK), everyone(OK)),
    Route("password_reset_done", "/password-reset/done/", everyone(OK), everyone(NO_METHOD)),
    Route("password_reset_confirm", "/reset/MQ/not-a-token/", everyone(OK), everyone(OK)),
    Route("password_reset_complete", "/reset/done/", everyone(OK), everyone(NO_METHOD)),
    # Infrastructure: open to everyone.
    Route("health", "/health/", everyone(OK), everyone(NO_METHOD)),
    Route("health_provider", "/health/provider/", everyone(OK), everyone(NO_METHOD)),
    # Prometheus: only the addresses in METRICS_ALLOW_IPS or a bearer token (none here).
    Route("metrics", "/metrics", everyone(DENIED_PLAIN), everyone(NO_METHOD)),
    # A redirect to the static file, whatever the method.
    Route("favicon.ico", "/favicon.ico", everyone(FAVICON), None, others=everyone(FAVICON)),
    # Django admin: staff only, with its own login page; the views that change data below.
    Route("admin", "/admin/", STAFF_ONLY, None),
    Route("admin", "/admin/auth/user/", STAFF_ONLY, None),
    *ADMIN_ROUTES,
    # The dashboard: reading needs a role; acting needs the role that grants it.
    Route("snapshots_ui:fleet", "/", ANY_ROLE, everyone(NO_METHOD)),
    Route("snapshots_ui:server", f"/servers/{WEB}/", ANY_ROLE, everyone(NO_METHOD)),
    Route("snapshots_ui:snapshot_create", f"/servers/{WEB}/snapshots/",
          everyone(NO_METHOD), (LOGIN, DENIED, TO_SERVER, TO_SERVER),
          data={"name": "matrix-check"}),
    Route("snapshots_ui:snapshot_restore", f"/snapshots/{NEWEST}/restore/",
          (LOGIN, DENIED, OK, OK), (LOGIN, DENIED, TO_SERVER, TO_SERVER),
          data={"confirm_name": WEB_NAME, "safety": "skip"}),
    Route("snapshots_ui:snapshot_delete", f"/snapshots/{OLDER}/delete/",
          (LOGIN, DENIED, DENIED, OK), (LOGIN, DENIED, DENIED, TO_SERVER)),
    Route("snapshots_ui:operation_status", "/operations/{operation}/", ANY_ROLE,
          everyone(NO_METHOD)),
    Route("snapshots_ui:operation_resolve", "/operations/{operation}/resolve/",
          everyone(NO_METHOD), (LOGIN, DENIED, DENIED, to(f"/servers/{EMPTY}/")),
          data={"action": "failed", "note": "Checked at the provider's console."}),
    Route("snapshots_ui:activity", "/activity/", ANY_ROLE, everyone(NO_METHOD)),
    Route("snapshots_ui:activity_csv", "/activity.csv", ANY_ROLE, everyone(NO_METHOD)),
    Route("snapshots_ui:provider", "/provider/", (LOGIN, DENIED, DENIED, OK), everyone(NO_METHOD)),
    # A snapshot's life: keeping and protecting is for Operators, lifting a protection,
    # deleting many and acknowledging a vanished one for Admins.
    Route("snapshots_ui:snapshot_keep", f"/snapshots/{NEWEST}/keep/", everyone(NO_METHOD),
          (LOGIN, DENIED, TO_SERVER, TO_SERVER), data={"keep_days": "7"}),
    Route("snapshots_ui:snapshot_protect", f"/snapshots/{NEWEST}/protect/", everyone(NO_METHOD),
          (LOGIN, DENIED, TO_SERVER, TO_SERVER)),
    Route("snapshots_ui:snapshot_unprotect", f"/snapshots/{NEWEST}/unprotect/",
          everyone(NO_METHOD), (LOGIN, DENIED, DENIED, TO_SERVER)),
    Route("snapshots_ui:snapshot_gone_acknowledge", f"/snapshots/{OLDER}/gone/acknowledge/",
          everyone(NO_METHOD), (LOGIN, DENIED, DENIED, NOT_FOUND)),
    Route("snapshots_ui:snapshots_delete_many", "/snapshots/delete/",
          (LOGIN, DENIED, DENIED, OK), (LOGIN, DENIED, DENIED, INVALID),
          data={"confirm": "delete everything"}),
    Route("snapshots_ui:snapshot_help", "/help/snapshots/", ANY_ROLE, everyone(NO_METHOD)),
    Route("snapshots_ui:workflow_status", "/workflows/{workflow}/", ANY_ROLE,
          everyone(NO_METHOD)),
    Route("snapshots_ui:workflow_cancel", "/workflows/{workflow}/cancel/", everyone(NO_METHOD),
          (LOGIN, DENIED, TO_WORKFLOW_SERVER, TO_WORKFLOW_SERVER)),
    # Notifications: Admins manage the targets; everyone chooses their own email.
    Route("snapshots_ui:notify_targets", "/notifications/", ADMINS_ONLY, everyone(NO_METHOD)),
    Route("snapshots_ui:notify_target_new", "/notifications/targets/new/", ADMINS_ONLY,
          (LOGIN, DENIED, DENIED, INVALID), data={"name": ""}),
    Route("snapshots_ui:notify_target", "/notifications/targets/{target}/", ADMINS_ONLY,
          (LOGIN, DENIED, DENIED, INVALID), data={"name": ""}),
    Route("snapshots_ui:notify_target_test", "/notifications/targets/{target}/test/",
          everyone(NO_METHOD), (LOGIN, DENIED, DENIED, TO_TARGET)),
    Route("snapshots_ui:notify_target_resume", "/notifications/targets/{target}/resume/",
          everyone(NO_METHOD), (LOGIN, DENIED, DENIED, TO_TARGET)),
    Route("snapshots_ui:notify_target_delete", "/notifications/targets/{target}/delete/",
          everyone(NO_METHOD), (LOGIN, DENIED, DENIED, to("/notifications/"))),
    Route("snapshots_ui:notify_subscription", "/account/notifications/", ANY_ROLE,
          (LOGIN, INVALID, INVALID, INVALID), data={"scope": "matching", "server_pattern": ""}),
    # Schedules: everyone reads them; Operators make and change them.
    Route("snapshots_ui:schedules", "/schedules/", ANY_ROLE, everyone(NO_METHOD)),
    Route("snapshots_ui:schedule_new", "/schedules/new/", (LOGIN, DENIED, OK, OK),
          (LOGIN, DENIED, INVALID, INVALID), data={"name": "", "save": "1"}),
    Route("snapshots_ui:schedule_edit", "/schedules/{schedule}/", (LOGIN, DENIED, OK, OK),
          (LOGIN, DENIED, INVALID, INVALID), data={"name": "", "save": "1"}),
    Route("snapshots_ui:schedule_pause", "/schedules/{schedule}/pause/", everyone(NO_METHOD),
          (LOGIN, DENIED, TO_SCHEDULES, TO_SCHEDULES), data={"action": "pause"}),
    Route("snapshots_ui:schedule_delete", "/schedules/{schedule}/delete/", everyone(NO_METHOD),
          (LOGIN, DENIED, TO_SCHEDULES, TO_SCHEDULES)),
]
# fmt: on
