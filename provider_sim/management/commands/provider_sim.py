"""``manage.py provider_sim``: serve the provider simulator until SIGINT or SIGTERM."""

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from provider_sim.models import SimServer
from provider_sim.seed import seed_demo_data
from provider_sim.server import start_in_thread


class Command(BaseCommand):
    help = (
        "Serve the hosting provider simulator (demo data seeded when empty). "
        "It accepts the token in VPS_API_TOKEN."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument(
            "--create-seconds",
            type=float,
            default=None,
            help=f"How long a snapshot takes (default {settings.VPS_SIM_CREATE_SECONDS:g}).",
        )
        parser.add_argument(
            "--restore-seconds",
            type=float,
            default=None,
            help=f"How long a restore takes (default {settings.VPS_SIM_RESTORE_SECONDS:g}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if SimServer._meta.db_table not in connection.introspection.table_names():
            raise CommandError("The simulator's tables are missing: run `manage.py migrate`.")
        if options["create_seconds"] is not None:
            settings.VPS_SIM_CREATE_SECONDS = options["create_seconds"]
        if options["restore_seconds"] is not None:
            settings.VPS_SIM_RESTORE_SECONDS = options["restore_seconds"]
        seed_demo_data()
        connection.close()  # the request threads use their own connections

        stop_requested = threading.Event()

        def request_stop(signum: int, frame: object) -> None:
            stop_requested.set()

        previous = {
            signum: signal.signal(signum, request_stop)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        running = start_in_thread(options["host"], options["port"], quiet=False)
        try:
            self.stdout.write(f"Provider simulator listening at {running.base_url}")
            self.stdout.flush()
            while not stop_requested.wait(0.5):
                pass
        finally:
            running.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        self.stdout.write("Provider simulator stopped.")
