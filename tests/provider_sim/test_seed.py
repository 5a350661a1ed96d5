"""The demo and bulk seed data (seed.py)."""

import re
from datetime import timedelta

from django.utils import timezone

from provider_sim.models import SimServer, SimSnapshot
from provider_sim.seed import seed_bulk, seed_demo_data


def test_demo_data_is_realistic_and_seeded_once(db: None) -> None:
    seed_demo_data()
    seed_demo_data()

    servers = {server.pk: server for server in SimServer.objects.all()}
    assert len(servers) == 6
    assert servers[12345].name == "web-server-01"
    assert servers[12345].status == "running"
    assert servers[12350].name == "db-primary"
    assert servers[12350].status == "stopped"
    counts = {pk: server.snapshots.count() for pk, server in servers.items()}
    assert counts[12345] == 2
    assert max(counts.values()) == 5
    assert min(counts.values()) == 0
    full = next(pk for pk, count in counts.items() if count == 5)
    assert servers[full].status == "running"
    assert set(servers[full].snapshots.values_list("status", flat=True)) == {"completed"}
    for snapshot in SimSnapshot.objects.all():
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", snapshot.name)
        assert snapshot.created_at < timezone.now()
        assert (snapshot.size_mb is None) == (snapshot.status == "failed")
    oldest = SimSnapshot.objects.order_by("created_at").first()
    assert oldest is not None
    assert timezone.now() - oldest.created_at > timedelta(weeks=3)


def test_bulk_seed_numbering_continues(db: None) -> None:
    seed_bulk(3, 2)
    seed_bulk(2, 1)

    names = list(SimServer.objects.order_by("id").values_list("name", flat=True))
    assert names == ["srv-0001", "srv-0002", "srv-0003", "srv-0004", "srv-0005"]
    assert SimSnapshot.objects.count() == 8
    assert not SimSnapshot.objects.filter(size_mb__isnull=True).exists()
