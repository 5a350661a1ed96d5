from django.urls import path

from snapshots_ui.views import actions, activity, fleet, provider

app_name = "snapshots_ui"

urlpatterns = [
    path("", fleet.fleet, name="fleet"),
    path("servers/<int:server_id>/", fleet.server_detail, name="server"),
    path("servers/<int:server_id>/snapshots/", actions.snapshot_create, name="snapshot_create"),
    path("snapshots/<int:snapshot_id>/restore/", actions.snapshot_restore, name="snapshot_restore"),
    path("snapshots/<int:snapshot_id>/delete/", actions.snapshot_delete, name="snapshot_delete"),
    path("operations/<int:operation_id>/", actions.operation_status, name="operation_status"),
    path(
        "operations/<int:operation_id>/resolve/",
        actions.operation_resolve,
        name="operation_resolve",
    ),
    path("activity/", activity.activity, name="activity"),
    path("activity.csv", activity.activity_csv, name="activity_csv"),
    path("provider/", provider.provider_page, name="provider"),
]
