"""/api/: version 1 of the API, its OpenAPI schema and its docs page. Anything else under
/api/ answers a 404 problem."""

from django.urls import path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView

from snapshots_ui.api import schema, views


class IdConverter:
    """Ids of at most 15 digits: larger ones name nothing and would overflow the database."""

    regex = "[0-9]{1,15}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "api_id")

app_name = "api"

urlpatterns = [
    path("v1/servers/", views.ServerList.as_view(), name="servers"),
    path(
        "v1/servers/<api_id:server_id>/snapshots/",
        views.ServerSnapshots.as_view(),
        name="server_snapshots",
    ),
    path("v1/snapshots/<api_id:snapshot_id>/", views.SnapshotDetail.as_view(), name="snapshot"),
    path(
        "v1/snapshots/<api_id:snapshot_id>/restore/",
        views.SnapshotRestore.as_view(),
        name="snapshot_restore",
    ),
    path("v1/operations/<api_id:operation_id>/", views.OperationDetail.as_view(), name="operation"),
    path("v1/activity/", views.Activity.as_view(), name="activity"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", schema.api_docs, name="docs"),
    re_path(r"^.*$", views.NotFoundView.as_view(), name="not_found"),
]
