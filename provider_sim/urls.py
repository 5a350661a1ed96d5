"""The simulator's URLconf, rooted at ``/``; served on its own by ``provider_sim.server``."""

from django.urls import path, re_path

from provider_sim import control_views, views

urlpatterns = [
    path("api/v1/snapshots/", views.snapshots),
    path("api/v1/snapshots/<int:snapshot_id>/", views.snapshot_detail),
    path("api/v1/snapshots/<int:snapshot_id>/restore/", views.snapshot_restore_view),
    path("api/v1/servers/", views.servers),
    path("api/v1/servers/<int:server_id>/", views.server_detail),
    # Anything else under the API answers like the provider: a JSON 404 (and is counted).
    re_path(r"^api/v1/", views.unknown_endpoint),
    path("_sim/faults/", control_views.control_faults),
    path("_sim/token/", control_views.control_token),
    path("_sim/stats/", control_views.control_stats),
    path("_sim/reset/", control_views.control_reset),
    path("_sim/seed/", control_views.control_seed),
]
