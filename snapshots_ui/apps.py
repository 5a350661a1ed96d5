from django.apps import AppConfig


class SnapshotsUiConfig(AppConfig):
    name = "snapshots_ui"
    verbose_name = "Snapshots"
