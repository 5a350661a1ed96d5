"""API tokens: shown once and stored as a hash, never more than the owner's role (at use
too), expiry, last use, revocation by the owner or an Admin, the account page, the
management command, audit, and the rate limit per token."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from snapshots_ui.api_tokens import TokenRefused, api_token_create, api_token_revoke
from snapshots_ui.audit import SYSTEM, Actor
from snapshots_ui.models import ApiToken, AuditEvent
from tests.factories import UserFactory
from tests.views.helpers import EMPTY, page_text

SERVERS = "/api/v1/servers/"


def test_a_token_is_stored_only_as_a_hash(db: None, operator) -> None:
    token, raw = api_token_create(actor=SYSTEM, user=operator, name="ci", scopes=["read"],
                                  lifetime=None)  # fmt: skip

    assert re.fullmatch(r"sdt_[a-z0-9]{12}_[A-Za-z0-9_-]{43}", raw)
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert raw not in str(stored)
    assert raw.split("_")[2] not in str(stored)


def test_a_token_never_exceeds_the_role_it_is_made_under(db: None, viewer) -> None:
    with pytest.raises(TokenRefused, match="does not allow the scope"):
        api_token_create(actor=SYSTEM, user=viewer, name="ci", scopes=["read", "create"],
                         lifetime=None)  # fmt: skip


def test_a_demoted_owners_token_loses_what_the_new_role_lacks(
    seeded_simulator: object, api, token_for, operator
) -> None:
    raw = token_for(operator, "read,create")
    operator.groups.set([Group.objects.get(name="Viewer")])

    created = api("POST", f"/api/v1/servers/{EMPTY}/snapshots/", raw, json={"name": "x-1"})
    listed = api("GET", SERVERS, raw)

    assert created.status_code == 403
    assert "no longer allowed to create" in created.json()["detail"]
    assert listed.status_code == 200


@pytest.mark.parametrize("why", ["expired", "revoked", "deactivated"])
def test_expired_revoked_or_deactivated_tokens_are_refused(
    db: None, api, operator, why: str
) -> None:
    token, raw = api_token_create(actor=SYSTEM, user=operator, name="ci", scopes=["read"],
                                  lifetime=timedelta(days=1))  # fmt: skip
    if why == "expired":
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now())
    elif why == "revoked":
        api_token_revoke(actor=Actor(user=operator, ip=None), token=token)
    else:
        operator.is_active = False
        operator.save()

    response = api("GET", SERVERS, raw)

    assert response.status_code == 401
    assert (
        response.json()["detail"] == "This token is not valid: it is unknown, revoked or expired."
    )


def test_last_use_is_recorded_with_the_address(seeded_simulator: object, api, operator) -> None:
    token, raw = api_token_create(actor=SYSTEM, user=operator, name="ci", scopes=["read"],
                                  lifetime=None)  # fmt: skip

    api("GET", SERVERS, raw)

    token.refresh_from_db()
    assert token.last_used_at is not None
    assert token.last_used_ip == "127.0.0.1"


def test_only_the_owner_or_an_admin_revokes_and_both_are_audited(
    db: None, operator, admin_user
) -> None:
    other = UserFactory(username="otto", role="Operator")
    token, _raw = api_token_create(actor=Actor(user=operator, ip="10.0.0.1"), user=operator,
                                   name="ci", scopes=["read"], lifetime=None)  # fmt: skip

    with pytest.raises(TokenRefused):
        api_token_revoke(actor=Actor(user=other, ip=None), token=token)
    api_token_revoke(actor=Actor(user=admin_user, ip="10.0.0.2"), token=token)

    token.refresh_from_db()
    assert token.revoked_by_name == "ada"
    events = list(AuditEvent.objects.order_by("id").values_list("action", "actor_name"))
    assert events == [("account.api_token.created", "omar"), ("account.api_token.revoked", "ada")]


def test_the_command_prints_a_working_token_once(db: None, operator) -> None:
    out = io.StringIO()

    call_command("create_api_token", "omar", "--name", "deploy", "--scopes", "read,create",
                 "--expires", "90d", stdout=out)  # fmt: skip

    raw = out.getvalue().strip()
    token = ApiToken.objects.get()
    assert raw.startswith(f"sdt_{token.prefix}_")
    assert token.scope_list == ["read", "create"]
    assert timedelta(days=89) < token.expires_at - timezone.now() <= timedelta(days=90)
    assert AuditEvent.objects.get().actor_name == "manage.py create_api_token"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["vera", "--scopes", "delete"], "does not allow"),
        (["nobody", "--scopes", "read"], "No user named"),
        (["vera", "--scopes", "read", "--expires", "forever"], "number of days"),
        (["vera", "--scopes", "sudo"], "at least one scope"),
    ],
)
def test_the_command_refuses_what_the_page_refuses(
    db: None, viewer, args: list[str], error: str
) -> None:
    with pytest.raises(CommandError, match=error):
        call_command("create_api_token", *args, "--name", "x")


def test_the_account_page_shows_a_new_token_once_and_lists_its_use(
    db: None, client: Client, operator
) -> None:
    client.force_login(operator)

    page = client.get("/account/tokens/")
    made = client.post("/account/tokens/", {"name": "deploy-ci", "scopes": ["read", "create"],
                                            "lifetime": "90"})  # fmt: skip
    again = client.get("/account/tokens/")

    assert 'value="delete"' not in page.content.decode()  # an Operator cannot delete
    raw = re.search(r'id="token-secret">(sdt_[^<]+)<', made.content.decode())[1]
    assert made["Cache-Control"] == "no-store"
    assert raw not in again.content.decode()
    assert "deploy-ci" in page_text(again)
    assert "not yet" in page_text(again)


def test_the_rate_limit_is_per_token(
    seeded_simulator: object, api, token_for, viewer, settings
) -> None:
    settings.API_THROTTLE_RATE = "3/min"
    first, second = token_for(viewer, "read", name="a"), token_for(viewer, "read", name="b")

    answers = [api("GET", "/api/v1/activity/", first).status_code for _ in range(4)]
    other = api("GET", "/api/v1/activity/", second)
    limited = api("GET", "/api/v1/activity/", first)

    assert answers == [200, 200, 200, 429]
    assert other.status_code == 200
    assert limited.json()["status"] == 429
    assert int(limited["Retry-After"]) > 0
