from django.urls import path

from snapshots_ui.views import (
    actions,
    activity,
    fleet,
    help,
    lifecycle,
    notifications,
    provider,
    schedules,
)

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
    path("help/snapshots/", help.snapshot_help, name="snapshot_help"),
    path("activity/", activity.activity, name="activity"),
    path("activity.csv", activity.activity_csv, name="activity_csv"),
    path("provider/", provider.provider_page, name="provider"),
    path("snapshots/<int:snapshot_id>/keep/", lifecycle.snapshot_keep, name="snapshot_keep"),
    path(
        "snapshots/<int:snapshot_id>/protect/", lifecycle.snapshot_protect, name="snapshot_protect"
    ),
    path(
        "snapshots/<int:snapshot_id>/unprotect/",
        lifecycle.snapshot_unprotect,
        name="snapshot_unprotect",
    ),
    path(
        "snapshots/<int:snapshot_id>/gone/acknowledge/",
        lifecycle.snapshot_gone_acknowledge,
        name="snapshot_gone_acknowledge",
    ),
    path("snapshots/delete/", lifecycle.snapshots_delete_many, name="snapshots_delete_many"),
    path("workflows/<int:workflow_id>/", lifecycle.workflow_status, name="workflow_status"),
    path("workflows/<int:workflow_id>/cancel/", lifecycle.workflow_cancel, name="workflow_cancel"),
    path("schedules/", schedules.schedule_list, name="schedules"),
    path("schedules/new/", schedules.schedule_edit, name="schedule_new"),
    path("schedules/<int:schedule_id>/", schedules.schedule_edit, name="schedule_edit"),
    path("schedules/<int:schedule_id>/pause/", schedules.schedule_pause, name="schedule_pause"),
    path("schedules/<int:schedule_id>/delete/", schedules.schedule_delete, name="schedule_delete"),
    path("notifications/", notifications.target_list, name="notify_targets"),
    path("notifications/targets/new/", notifications.target_edit, name="notify_target_new"),
    path("notifications/targets/<int:target_id>/", notifications.target_edit, name="notify_target"),
    path(
        "notifications/targets/<int:target_id>/test/",
        notifications.target_test,
        name="notify_target_test",
    ),
    path(
        "notifications/targets/<int:target_id>/resume/",
        notifications.target_resume,
        name="notify_target_resume",
    ),
    path(
        "notifications/targets/<int:target_id>/delete/",
        notifications.target_delete,
        name="notify_target_delete",
    ),
    path("account/notifications/", notifications.subscription, name="notify_subscription"),
]
