from django.apps import AppConfig


class SnapshotsUiConfig(AppConfig):
    name = "snapshots_ui"
    verbose_name = "Snapshots"

    def ready(self) -> None:
        """Record account events from Django's and django-axes' signals; raise notifications
        from the audit trail."""
        from axes.signals import user_locked_out
        from django.contrib.auth import signals

        from snapshots_ui import accounts
        from snapshots_ui.audit import audit_recorded
        from snapshots_ui.notify.receivers import on_audit_recorded

        signals.user_logged_in.connect(accounts.on_logged_in, dispatch_uid="audit-login")
        signals.user_logged_out.connect(accounts.on_logged_out, dispatch_uid="audit-logout")
        signals.user_login_failed.connect(accounts.on_login_failed, dispatch_uid="audit-failed")
        user_locked_out.connect(accounts.on_locked_out, dispatch_uid="audit-locked-out")
        audit_recorded.connect(on_audit_recorded, dispatch_uid="notify-from-audit")
