"""The API's endpoints: thin views over the same selectors and actions as the pages."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from snapshots_ui import lifecycle, safe_restore, selectors, services
from snapshots_ui.api import serializers as s
from snapshots_ui.api.base import ApiView, actor_of, idempotent
from snapshots_ui.api.schema import IDEMPOTENCY_PARAMETER, problems
from snapshots_ui.fleet_cache import FleetUnavailable, fleet_current
from snapshots_ui.models import Operation, Workflow
from snapshots_ui.safe_restore import SafetyChoice

# A long-poll re-reads the operation this often, holding no database connection meanwhile.
WAIT_STEP_SECONDS = 0.5


def _accepted(operation: Operation | None, workflow: Workflow | None = None) -> Response:
    wait_url = None
    if operation is not None:
        wait_url = reverse("api:operation", args=[operation.pk]) + "?wait=60"
    body = s.AcceptedSerializer(
        {"operation": operation, "workflow": workflow, "wait_url": wait_url}
    )
    return Response(body.data, status=202)


class ServerList(ApiView):
    scopes = {"GET": "read"}

    @extend_schema(operation_id="servers_list", responses={200: s.ServerSerializer(many=True),
                   **problems(401, 403, 429, 503)})  # fmt: skip
    def get(self, request: Request) -> Response:
        """Every server with its state, slots used and operations in progress."""
        fleet = fleet_current()
        if fleet.data is None:
            raise FleetUnavailable(fleet)
        summaries = selectors.fleet_summaries(fleet=fleet)
        return Response(s.ServerSerializer(summaries, many=True).data)


class ServerSnapshots(ApiView):
    scopes = {"GET": "read", "POST": "create"}

    @extend_schema(operation_id="server_snapshots_list", responses={
        200: s.ServerSnapshotsSerializer, **problems(401, 403, 404, 429, 503)})  # fmt: skip
    def get(self, request: Request, server_id: int) -> Response:
        """One server with its snapshots, newest first."""
        _fleet, summary = selectors.server_get(server_id=server_id)
        return Response(s.ServerSnapshotsSerializer(summary).data)

    @extend_schema(
        operation_id="snapshot_create", request=s.SnapshotCreate,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={202: s.AcceptedSerializer,
                   **problems(400, 401, 403, 404, 409, 413, 415, 422, 429, 502, 503)},
    )  # fmt: skip
    def post(self, request: Request, server_id: int) -> Response:
        """Take a snapshot (202 with the operation to follow)."""
        form = s.SnapshotCreate(data=request.data)
        form.is_valid(raise_exception=True)
        return idempotent(request, lambda: self._create(request, server_id, form.validated_data))

    def _create(self, request: Request, server_id: int, data: dict[str, object]) -> Response:
        keep_until = data.get("keep_until", lifecycle.keep_until_for(
            settings.SNAPSHOT_DEFAULT_KEEP_DAYS))  # fmt: skip
        _fleet, summary = selectors.server_get(server_id=server_id, refresh=False)
        if data["replace_oldest"] and summary.at_limit:
            oldest = lifecycle.oldest_to_replace(summary)
            workflow = lifecycle.snapshot_create_replacing(
                actor=actor_of(request), server_id=server_id, name=str(data["name"]),
                description=str(data["description"]), keep_until=keep_until,  # type: ignore[arg-type]
                replace_snapshot_id=oldest.snapshot.id,
            )  # fmt: skip
            return _accepted(None, workflow)
        operation = services.snapshot_create(
            actor=actor_of(request), server_id=server_id, name=str(data["name"]),
            description=str(data["description"]), keep_until=keep_until,  # type: ignore[arg-type]
        )  # fmt: skip
        return _accepted(operation)


class SnapshotRestore(ApiView):
    scopes = {"POST": "restore"}

    @extend_schema(
        operation_id="snapshot_restore", request=s.RestoreConfirm,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={202: s.AcceptedSerializer,
                   **problems(400, 401, 403, 404, 409, 413, 415, 422, 429, 502, 503)},
    )  # fmt: skip
    def post(self, request: Request, snapshot_id: int) -> Response:
        """Restore the snapshot's server from it; ``confirm_name`` must be the server's name."""
        form = s.RestoreConfirm(data=request.data)
        form.is_valid(raise_exception=True)
        return idempotent(request, lambda: self._restore(request, snapshot_id, form.validated_data))

    def _restore(self, request: Request, snapshot_id: int, data: dict[str, object]) -> Response:
        _fleet, summary, snapshot = selectors.snapshot_get(snapshot_id=snapshot_id, refresh=False)
        if data["confirm_name"] != summary.server.name:
            raise exceptions.ValidationError({"confirm_name": [
                _("That is not the server's name. Type “%(name)s” exactly to confirm.")
                % {"name": summary.server.name}]})  # fmt: skip
        choice = SafetyChoice.TAKE if data["safety_snapshot"] else SafetyChoice.SKIP
        started = safe_restore.restore_start(
            actor=actor_of(request), snapshot_id=snapshot.id, choice=choice
        )
        if isinstance(started, Workflow):  # a safety snapshot first: its operation runs now
            first = started.steps.filter(operation__isnull=False).first()
            return _accepted(first.operation if first else None, started)
        return _accepted(started)


class SnapshotDetail(ApiView):
    scopes = {"DELETE": "delete"}

    @extend_schema(operation_id="snapshot_delete", responses={
        200: s.OperationSerializer, 202: s.OperationSerializer,
        **problems(401, 403, 404, 409, 422, 429, 502, 503)})  # fmt: skip
    def delete(self, request: Request, snapshot_id: int) -> Response:
        """Delete a snapshot: 200 when the provider confirmed it, 202 when its answer was lost
        (the operation then says how it ended)."""
        deleted = services.snapshot_delete(actor=actor_of(request), snapshot_id=snapshot_id)
        status = 202 if deleted.unconfirmed else 200
        return Response(s.OperationSerializer(deleted.operation).data, status=status)


class OperationDetail(ApiView):
    scopes = {"GET": "read"}

    @extend_schema(
        operation_id="operation_get",
        parameters=[s.WaitQuery],
        responses={200: s.OperationSerializer, **problems(400, 401, 403, 404, 429)},
    )
    def get(self, request: Request, operation_id: int) -> Response:
        """An operation; with ``?wait=N`` (at most 60) the answer comes when it has ended, or
        after N seconds. ``done`` says whether it has."""
        query = s.WaitQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        operation = get_object_or_404(Operation, pk=operation_id)
        wait = min(query.validated_data["wait"], settings.API_LONG_POLL_CAP_SECONDS)
        deadline = time.monotonic() + wait
        while operation.is_active and time.monotonic() < deadline:
            _release_connection()
            time.sleep(min(WAIT_STEP_SECONDS, max(0.0, deadline - time.monotonic())))
            operation.refresh_from_db()
        return Response(s.OperationSerializer(operation).data)


def _release_connection() -> None:
    """Hand the database connection back while waiting: a minute-long poll from every CI job
    must not keep a connection each (outside a transaction there is nothing to keep)."""
    if not connection.in_atomic_block:
        connection.close()


class Activity(ApiView):
    scopes = {"GET": "read"}

    @extend_schema(
        operation_id="activity_list",
        parameters=[s.ActivityQuery],
        responses={200: s.ActivityPageSerializer, **problems(400, 401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        """Operations, newest first, filtered like the Activity page (``q``, ``kind``,
        ``state``, ``server``)."""
        query = s.ActivityQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.validated_data
        operations = selectors.operations_filtered(filters=filters)
        offset, limit = filters["offset"], filters["limit"]
        page = list(operations[offset : offset + limit + 1])
        following = None
        if len(page) > limit:
            params = request.query_params.copy()
            params["offset"] = str(offset + limit)
            following = f"{request.path}?{params.urlencode()}"
        count = operations.count()
        body = {"count": count, "next": following, "results": page[:limit]}
        return Response(s.ActivityPageSerializer(body).data)


class NotFoundView(ApiView):
    """Anything else under /api/: a problem, not the pages' HTML 404."""

    authentication_classes: list[type] = []
    permission_classes: list[type] = []
    throttle_classes: list[type] = []
    schema = None

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        raise exceptions.NotFound(_("Nothing is at this address."))
