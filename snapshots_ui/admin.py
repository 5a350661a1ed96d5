from django.contrib import admin
from django.http import HttpRequest

from snapshots_ui.models import AuditEvent, Operation, SecurityPolicy


class ReadOnlyAdmin(admin.ModelAdmin):
    """The audit trail can be read here, never edited or deleted."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Operation)
class OperationAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "kind",
        "server_name",
        "snapshot_name",
        "state",
        "requested_by_name",
    )
    list_filter = ("kind", "state")
    search_fields = ("server_name", "snapshot_name", "requested_by_name")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "actor_name",
        "actor_ip",
        "action",
        "server_name",
        "snapshot_name",
    )
    list_filter = ("action",)
    search_fields = ("actor_name", "server_name", "snapshot_name", "detail")


@admin.register(SecurityPolicy)
class SecurityPolicyAdmin(admin.ModelAdmin):
    """One row; it can be changed, not added twice or deleted."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not SecurityPolicy.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
