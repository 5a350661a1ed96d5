"""``manage.py create_api_token USER --name NAME --scopes read,create [--expires 90d]``:
provisioning's way to make a token. Prints the token (once) on standard output."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from snapshots_ui import api_tokens
from snapshots_ui.audit import Actor


class Command(BaseCommand):
    help = "Create an API token for a user and print it (it is shown only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="the username of the token's owner")
        parser.add_argument("--name", required=True, help="what the token is for, e.g. deploy-ci")
        parser.add_argument(
            "--scopes", required=True, help="comma-separated: read, create, restore, delete"
        )
        parser.add_argument(
            "--expires", default="90d", help="days until it expires, e.g. 90d, or never"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user named {options['user']!r}.")
        scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()]
        try:
            lifetime = api_tokens.expiry_parse(options["expires"])
            _token, raw = api_tokens.api_token_create(
                actor=Actor(user=None, ip=None, label="manage.py create_api_token"),
                user=user, name=options["name"], scopes=scopes, lifetime=lifetime,
            )  # fmt: skip
        except api_tokens.TokenRefused as refused:
            raise CommandError(refused.message) from refused
        self.stdout.write(raw)
