"""What the API reads and answers. Input is checked strictly (a number is not a name, "yes"
is not a boolean) with the pages' own sentences; nothing reaches the provider before."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from snapshots_ui.services import SNAPSHOT_NAME_MAX_LENGTH, snapshot_name_error
from snapshots_ui.statuses import OperationState


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError(_("Give a string."))
        return str(super().to_internal_value(data))


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data: object) -> bool:
        if not isinstance(data, bool):
            raise serializers.ValidationError(_("Give true or false."))
        return data


@extend_schema_field(
    {"type": "string", "pattern": "^[A-Za-z0-9_-]+$", "minLength": 1,
     "maxLength": SNAPSHOT_NAME_MAX_LENGTH}
)  # fmt: skip
class SnapshotNameField(StrictCharField):
    """Checked by the provider's naming rule (``validate_name``), with the pages' sentences."""


class SnapshotCreate(serializers.Serializer):
    name = SnapshotNameField(max_length=255, trim_whitespace=True, allow_blank=True)
    description = StrictCharField(max_length=255, required=False, default="", allow_blank=True)
    keep_until = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="When the snapshot is deleted by itself; null keeps it until someone deletes "
        "it. Left out: the dashboard's default (SNAPSHOT_DEFAULT_KEEP_DAYS).",
    )
    replace_oldest = StrictBooleanField(
        required=False,
        default=False,
        help_text="At the provider's limit, delete the oldest unprotected snapshot first, then "
        "take this one (a workflow; the answer then names the workflow, not an operation).",
    )

    def validate_name(self, name: str) -> str:
        if error := snapshot_name_error(name):
            raise serializers.ValidationError(error)
        return name

    def validate_keep_until(self, value: Any) -> Any:
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError(_("Choose a moment in the future."))
        return value


class RestoreConfirm(serializers.Serializer):
    confirm_name = StrictCharField(
        max_length=255, help_text="The server's name, exactly, to confirm the restore."
    )
    safety_snapshot = StrictBooleanField(
        required=False,
        default=False,
        help_text="Take a snapshot of the server's current state first (kept 7 days) and restore "
        "once it is completed; refused (409) when the server has no free slot for it.",
    )


class OperationSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    kind = serializers.CharField()
    state = serializers.CharField()
    done = serializers.SerializerMethodField()
    succeeded = serializers.SerializerMethodField()
    server_id = serializers.IntegerField()
    server_name = serializers.CharField()
    snapshot_id = serializers.IntegerField(allow_null=True)
    snapshot_name = serializers.CharField()
    description = serializers.CharField()
    requested_by = serializers.CharField(source="requested_by_name")
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    provider_message = serializers.CharField()
    error = serializers.CharField()
    outcome = serializers.SerializerMethodField()

    def get_done(self, operation: Any) -> bool:
        return not operation.is_active

    def get_succeeded(self, operation: Any) -> bool:
        return operation.state == "succeeded"

    def get_outcome(self, operation: Any) -> str:
        return str(operation.outcome_sentence()) if not operation.is_active else ""


class WorkflowSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    kind = serializers.CharField()
    state = serializers.CharField()


class AcceptedSerializer(serializers.Serializer):
    """A create or restore started: its operation, or the workflow that will start it."""

    operation = OperationSerializer(allow_null=True)
    workflow = WorkflowSerializer(allow_null=True)
    wait_url = serializers.CharField(allow_null=True)


class SnapshotSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()
    size_mb = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField(allow_null=True)
    description = serializers.CharField()


class ServerSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="server.id")
    name = serializers.CharField(source="server.name")
    status = serializers.CharField(source="server.status", allow_null=True)
    slots_used = serializers.IntegerField(source="snapshot_count")
    slots_limit = serializers.IntegerField(source="limit")
    operations_in_progress = OperationSerializer(source="active_operations", many=True)


class ServerSnapshotsSerializer(ServerSerializer):
    snapshots = SnapshotSerializer(many=True)


class ActivityPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    results = OperationSerializer(many=True)


class ActivityQuery(serializers.Serializer):
    q = StrictCharField(required=False, max_length=100, allow_blank=True)
    kind = serializers.ChoiceField(choices=["create", "restore", "delete"], required=False)
    state = serializers.ChoiceField(choices=OperationState.values, required=False)
    server = serializers.IntegerField(required=False, min_value=1, max_value=2**53)
    offset = serializers.IntegerField(required=False, min_value=0, max_value=10**6, default=0)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=50)


class WaitQuery(serializers.Serializer):
    wait = serializers.IntegerField(required=False, min_value=0, max_value=60, default=0)


class ProblemSerializer(serializers.Serializer):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                   required=False)  # fmt: skip
