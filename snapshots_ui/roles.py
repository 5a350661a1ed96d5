"""The three team roles (groups, created by a migration) and the permissions they grant."""

VIEWER = "Viewer"
OPERATOR = "Operator"
ADMIN = "Admin"

VIEW = "snapshots_ui.view_dashboard"
CREATE = "snapshots_ui.create_snapshot"
RESTORE = "snapshots_ui.restore_snapshot"
DELETE = "snapshots_ui.delete_snapshot"
PROVIDER = "snapshots_ui.view_provider"
NOTIFICATIONS = "snapshots_ui.manage_notifications"

ROLE_PERMISSIONS: dict[str, list[str]] = {
    VIEWER: [VIEW],
    OPERATOR: [VIEW, CREATE, RESTORE],
    ADMIN: [
        VIEW,
        CREATE,
        RESTORE,
        DELETE,
        PROVIDER,
        NOTIFICATIONS,
        # Managing the team's users in Django admin (Admins also need "staff status").
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
        "snapshots_ui.view_securitypolicy",
        "snapshots_ui.change_securitypolicy",
        "snapshots_ui.view_operation",
        "snapshots_ui.view_auditevent",
        # Lock-outs: seen here, lifted with the audited "Unlock" action (not by deleting).
        "axes.view_accessattempt",
        "axes.view_accessfailurelog",
    ],
}
ROLES = (VIEWER, OPERATOR, ADMIN)


def ensure_roles() -> None:
    """Create the role groups with exactly their permissions."""
    from django.contrib.auth.models import Group, Permission

    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(
            [
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
                for app_label, codename in (dotted.split(".") for dotted in codenames)
            ]
        )


def role_of(user: object) -> str | None:
    """The highest role a user holds (None: no role)."""
    held = set(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
    return next((role for role in reversed(ROLES) if role in held), None)
