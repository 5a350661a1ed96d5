"""The three team roles (groups, created by a migration) and the permissions they grant."""

VIEWER = "Viewer"
OPERATOR = "Operator"
ADMIN = "Admin"

VIEW = "snapshots_ui.view_dashboard"
CREATE = "snapshots_ui.create_snapshot"
RESTORE = "snapshots_ui.restore_snapshot"
DELETE = "snapshots_ui.delete_snapshot"

ROLE_PERMISSIONS: dict[str, list[str]] = {
    VIEWER: ["view_dashboard"],
    OPERATOR: ["view_dashboard", "create_snapshot", "restore_snapshot"],
    ADMIN: ["view_dashboard", "create_snapshot", "restore_snapshot", "delete_snapshot"],
}


def ensure_roles() -> None:
    """Create the role groups with their permissions where they are missing."""
    from django.contrib.auth.models import Group, Permission

    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(
            *Permission.objects.filter(
                content_type__app_label="snapshots_ui", codename__in=codenames
            )
        )
