from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from snapshots_ui.models import Operation, OperationKind
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
