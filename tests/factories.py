from __future__ import annotations

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from snapshots_ui.models import Operation, OperationKind, Schedule, Workflow, WorkflowKind
from snapshots_ui.statuses import OperationState

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    """A team member; ``role`` names the group (Viewer, Operator, Admin)."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))


class OperationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Operation

    kind = OperationKind.CREATE
    state = OperationState.IN_PROGRESS
    server_id = 12345
    server_name = "web-server-01"
    snapshot_name = factory.Sequence(lambda n: f"snap-{n}")
    requested_by_name = "omar"


class WorkflowFactory(factory.django.DjangoModelFactory):
    """A running delete-then-create chain; its steps are added by the tests that need them."""

    class Meta:
        model = Workflow

    kind = WorkflowKind.REPLACE_OLDEST
    server_id = 12345
    server_name = factory.LazyAttribute(lambda w: f"server-{w.server_id}")
    started_by_name = "omar"


class ScheduleFactory(factory.django.DjangoModelFactory):
    """A nightly schedule of one server, next due tomorrow."""

    class Meta:
        model = Schedule

    name = factory.Sequence(lambda n: f"nightly-{n}")
    server_id = 12345
    cron = "30 2 * * *"
    time_zone = "UTC"
    keep_newest = 3
    next_run_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
