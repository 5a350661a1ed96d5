"""Demo and benchmark data for the simulator.

The demo keeps the spec's own examples (server 12345 ``web-server-01`` with snapshots 798 and
801, so that the next snapshot created is 802) and covers the cases the dashboard must show:
a stopped server, a server at the snapshot limit, a server without snapshots, a failed
snapshot. Timestamps are relative to now, so the demo always looks recent.
"""

from datetime import datetime, timedelta

from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone

from provider_sim.models import SimServer, SimSnapshot
from provider_sim.services import snapshot_size_estimate

COMPLETED = SimSnapshot.Status.COMPLETED
FAILED = SimSnapshot.Status.FAILED
RUNNING = SimServer.Status.RUNNING
STOPPED = SimServer.Status.STOPPED

# id, name, status, ip_address, region, plan, disk_gb
DEMO_SERVERS = [
    (12345, "web-server-01", RUNNING, "203.0.113.10", "ams1", "vps-2c-4g", 80),
    (12346, "web-server-02", RUNNING, "203.0.113.11", "ams1", "vps-2c-4g", 80),
    (12350, "db-primary", STOPPED, "198.51.100.20", "fra1", "vps-4c-16g", 320),
    (12351, "db-replica", RUNNING, "198.51.100.21", "fra1", "vps-4c-16g", 320),
    (12360, "staging-app", RUNNING, "203.0.113.30", "ams1", "vps-1c-2g", 40),
    (12370, "mail-relay", STOPPED, "192.0.2.40", "nyc1", "vps-1c-1g", 25),
]

# id, server id, name ("{date}" is filled in), description, status, size_mb, days and hours ago
DEMO_SNAPSHOTS = [
    (785, 12351, "weekly-snapshot-{date}", "Weekly snapshot", COMPLETED, 19870, 34, 0),
    (786, 12351, "weekly-snapshot-{date}", "Weekly snapshot", COMPLETED, 20115, 27, 0),
    (788, 12351, "weekly-snapshot-{date}", "Weekly snapshot", COMPLETED, 20402, 20, 0),
    (790, 12350, "before-pg16-upgrade", "Before PostgreSQL 16 upgrade", COMPLETED, 18230, 19, 5),
    (792, 12351, "weekly-snapshot-{date}", "Weekly snapshot", COMPLETED, 20688, 13, 0),
    (795, 12350, "nightly-{date}", "", COMPLETED, 18544, 12, 22),
    (796, 12351, "weekly-snapshot-{date}", "Weekly snapshot", COMPLETED, 20950, 6, 0),
    (797, 12370, "before-postfix-update", "Postfix 3.8 upgrade", COMPLETED, 1320, 10, 3),
    (798, 12345, "weekly-snapshot-{date}", "Weekly snapshot", COMPLETED, 4856, 8, 6),
    (799, 12346, "weekly-snapshot-{date}", "Weekly snapshot", COMPLETED, 4790, 8, 6),
    (800, 12350, "before-reindex", "Disk full during snapshot", FAILED, None, 5, 2),
    (801, 12345, "pre-migration-snapshot", "Before major migration", COMPLETED, 5120, 1, 5),
]


def _whole_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _reset_id_sequences() -> None:
    """After rows were written with explicit ids, let new rows continue after them (PostgreSQL)."""
    statements = connection.ops.sequence_reset_sql(no_style(), [SimServer, SimSnapshot])
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


@transaction.atomic
def seed_demo_data() -> None:
    """Create the demo servers and snapshots; does nothing if there are servers already."""
    if SimServer.objects.exists():
        return
    now = timezone.now()
    servers = SimServer.objects.bulk_create(
        SimServer(
            id=pk, name=name, status=status, ip_address=ip, region=region, plan=plan, disk_gb=disk
        )
        for pk, name, status, ip, region, plan, disk in DEMO_SERVERS
    )
    by_id = {server.pk: server for server in servers}
    snapshots = []
    for pk, server_id, name, description, status, size_mb, days, hours in DEMO_SNAPSHOTS:
        created_at = _whole_hour(now - timedelta(days=days, hours=hours))
        snapshots.append(
            SimSnapshot(
                id=pk,
                server=by_id[server_id],
                name=name.format(date=created_at.date().isoformat()),
                description=description,
                status=status,
                size_mb=size_mb,
                created_at=created_at,
            )
        )
    SimSnapshot.objects.bulk_create(snapshots)
    _reset_id_sequences()


@transaction.atomic
def seed_bulk(servers: int, snapshots_per_server: int) -> None:
    """Add ``servers`` servers (``srv-0001`` ...) with completed snapshots, for benchmarks.

    Numbering continues after servers added by earlier calls.
    """
    now = timezone.now()
    first = SimServer.objects.filter(name__startswith="srv-").count() + 1
    regions = ["ams1", "fra1", "nyc1", "sgp1"]
    plans = [("vps-1c-2g", 40), ("vps-2c-4g", 80), ("vps-4c-16g", 320)]
    new_servers = []
    for number in range(first, first + servers):
        plan, disk_gb = plans[number % len(plans)]
        new_servers.append(
            SimServer(
                name=f"srv-{number:04d}",
                status=SimServer.Status.STOPPED if number % 7 == 0 else SimServer.Status.RUNNING,
                ip_address=f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}",
                region=regions[number % len(regions)],
                plan=plan,
                disk_gb=disk_gb,
            )
        )
    created = SimServer.objects.bulk_create(new_servers, batch_size=500)
    snapshots = []
    for index, server in enumerate(created):
        for k in range(snapshots_per_server):
            name = f"{server.name}-snap-{k + 1:02d}"
            snapshots.append(
                SimSnapshot(
                    server=server,
                    name=name,
                    description=f"Benchmark snapshot {k + 1}",
                    status=SimSnapshot.Status.COMPLETED,
                    size_mb=snapshot_size_estimate(server=server, name=name),
                    created_at=now - timedelta(days=snapshots_per_server - k, minutes=index),
                )
            )
    SimSnapshot.objects.bulk_create(snapshots, batch_size=500)
