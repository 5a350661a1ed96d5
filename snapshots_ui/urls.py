from django.urls import path

from snapshots_ui import views

app_name = "snapshots_ui"

urlpatterns = [
    path("", views.fleet, name="fleet"),
    path("servers/<int:server_id>/", views.server_detail, name="server"),
    path("servers/<int:server_id>/snapshots/", views.snapshot_create, name="snapshot_create"),
    path("snapshots/<int:snapshot_id>/restore/", views.snapshot_restore, name="snapshot_restore"),
    path("snapshots/<int:snapshot_id>/delete/", views.snapshot_delete, name="snapshot_delete"),
    path("operations/<int:operation_id>/", views.operation_status, name="operation_status"),
    path(
        "operations/<int:operation_id>/resolve/",
        views.operation_resolve,
        name="operation_resolve",
    ),
    path("activity/", views.activity, name="activity"),
    path("activity.csv", views.activity_csv, name="activity_csv"),
]
