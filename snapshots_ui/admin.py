from typing import Any

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from snapshots_ui import accounts, roles
from snapshots_ui.models import AuditEvent, Operation, SecurityPolicy

admin.site.unregister(User)
admin.site.unregister(AccessAttempt)


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
        "subject_name",
        "server_name",
        "snapshot_name",
    )
    list_filter = ("action",)
    search_fields = ("actor_name", "subject_name", "server_name", "snapshot_name", "detail")


@admin.register(SecurityPolicy)
class SecurityPolicyAdmin(admin.ModelAdmin):
    """One row; it can be changed, not added twice or deleted."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not SecurityPolicy.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


# --- Users: roles, not permissions; superusers out of an Admin's reach ------------------------


class RoleChangeForm(UserChangeForm):
    """Django's user form with one role instead of groups and permissions."""

    role = forms.ChoiceField(
        label=_("Role"),
        required=False,
        choices=[("", _("No role (cannot use the dashboard)")), *[(r, r) for r in roles.ROLES]],
        help_text=_(
            "Viewers see everything; Operators also create snapshots and restore; Admins also "
            "delete snapshots and manage users."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["role"].initial = roles.role_of(self.instance) or ""


@admin.register(User)
class DashboardUserAdmin(UserAdmin):
    """User management for the Admin role.

    Someone who is not a superuser cannot make anyone a superuser, grant single permissions or
    groups, or touch a superuser's account (edit, set its password, delete): those fields are
    read-only and not in the form, so a forged POST that sets them changes nothing.
    """

    form = RoleChangeForm
    list_display = ("username", "email", "role", "is_active", "last_login")
    list_filter = ("is_active", "groups")
    actions = ("unlock_login", "reset_two_factor")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return self.add_fieldsets
        access = ["is_active", "role", "is_staff", "is_superuser"]
        return (
            (None, {"fields": ("username", "password")}),
            (_("Personal info"), {"fields": ("first_name", "last_name", "email")}),
            (_("Access"), {"fields": access}),
            (_("Important dates"), {"fields": ("last_login", "date_joined")}),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = ["last_login", "date_joined"]
        if not request.user.is_superuser:
            # is_staff follows the role (Admins get it); superuser status is never theirs to give.
            readonly += ["is_staff", "is_superuser"]
        return readonly

    @admin.display(description=_("Role"))
    def role(self, obj: Any) -> str:
        return roles.role_of(obj) or "—"

    def _out_of_reach(self, request: HttpRequest, obj: Any) -> bool:
        return obj is not None and obj.is_superuser and not request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._out_of_reach(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._out_of_reach(request, obj) and super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        was_active = (
            User.objects.filter(pk=obj.pk).values_list("is_active", flat=True).first()
            if change
            else True
        )
        super().save_model(request, obj, form, change)
        actor = accounts.request_actor(request)
        accounts.user_saved(actor=actor, user=obj, created=not change, was_active=bool(was_active))
        if "role" in form.cleaned_data:
            accounts.role_set(actor=actor, user=obj, role=form.cleaned_data["role"] or None)

    @admin.action(description=_("Unlock log-in (recorded in the audit trail)"))
    def unlock_login(self, request: HttpRequest, queryset: Any) -> None:
        actor = accounts.request_actor(request)
        for user in queryset:
            accounts.account_unlock(actor=actor, username=user.get_username())
        self.message_user(request, _("Log-in unlocked; the failed attempts stay recorded."))

    @admin.action(description=_("Remove their authenticator app (two-factor reset)"))
    def reset_two_factor(self, request: HttpRequest, queryset: Any) -> None:
        actor = accounts.request_actor(request)
        reset = [u for u in queryset if not self._out_of_reach(request, u)]
        for user in reset:
            accounts.two_factor_reset(actor=actor, user=user)
        self.message_user(
            request,
            ngettext(
                "Two-factor login reset for %(count)d user; they are told at their next log-in.",
                "Two-factor login reset for %(count)d users; they are told at their next log-in.",
                len(reset),
            )
            % {"count": len(reset)},
        )


# --- Lock-outs: lifted through the audit trail, never deleted silently --------------------------


@admin.register(AccessAttempt)
class LockoutAdmin(AccessAttemptAdmin):
    actions = ("unlock",)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Unlock (recorded in the audit trail)"), permissions=["view"])
    def unlock(self, request: HttpRequest, queryset: Any) -> None:
        actor = accounts.request_actor(request)
        for attempt in queryset:
            accounts.account_unlock(
                actor=actor, username=attempt.username or "", ip_address=attempt.ip_address or ""
            )
        self.message_user(request, _("Unlocked; the failed attempts stay recorded."))
