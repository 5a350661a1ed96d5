"""The pages in Arabic: chosen from the browser or in the top bar (kept on the account),
right to left, with no English sentence of the dashboard left untranslated; and an Arabic
e-mail subject that survives encoding."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from django.core import mail
from django.test import Client

from provider_sim.server import RunningSimulator
from snapshots_ui.models import AccountSettings
from tests.catalogue import read_po
from tests.views.helpers import NEWEST, WEB, WEB_NAME, page_text, visible_text

RTL_HTML = '<html lang="ar" dir="rtl">'
ARABIC = re.compile(r"[\u0600-\u06FF]{3,}")
# English sentences of the catalogue: if one shows on an Arabic page, it escaped translation.
ENGLISH_SENTENCES = sorted(
    {
        e.msgid
        for e in read_po()
        if not e.msgid_plural
        and "%(" not in e.msgid
        and "<" not in e.msgid
        and len(e.msgid.split()) >= 4
    }
)


def _in_arabic(client: Client) -> Client:
    response = client.post("/language/", {"language": "ar", "next": "/"})
    assert response.status_code == 302
    return client


def _assert_arabic_page(response) -> None:  # type: ignore[no-untyped-def]
    body = page_text(response)
    assert RTL_HTML in body
    text = visible_text(response)
    assert ARABIC.search(text)
    left_in_english = [s for s in ENGLISH_SENTENCES if s in text]
    assert left_in_english == []


@pytest.mark.parametrize(
    "path",
    ["/", f"/servers/{WEB}/", "/schedules/", "/activity/", "/help/snapshots/", "/no-such-page/"],
)
def test_the_main_pages_in_arabic(
    seeded_simulator: RunningSimulator, viewer_client: Client, path: str
) -> None:
    response = _in_arabic(viewer_client).get(path)

    assert response.status_code in (200, 404)
    _assert_arabic_page(response)


def test_the_restore_page_and_the_refusal_page_in_arabic(
    seeded_simulator: RunningSimulator, operator_client: Client, viewer
) -> None:
    viewer_client = Client()
    viewer_client.force_login(viewer)
    restore = _in_arabic(operator_client).get(f"/snapshots/{NEWEST}/restore/")
    refused = _in_arabic(viewer_client).get(f"/snapshots/{NEWEST}/restore/")

    assert restore.status_code == 200
    _assert_arabic_page(restore)
    assert f"<bdi>{WEB_NAME}</bdi>" in page_text(restore)  # the name never renders reversed
    assert refused.status_code == 403
    _assert_arabic_page(refused)
    assert "غير مسموح لك بهذا" in page_text(refused)


def test_the_browser_language_is_used_until_one_is_chosen(db: None) -> None:
    arabic = Client(HTTP_ACCEPT_LANGUAGE="ar,en;q=0.5").get("/login/")
    english = Client(HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9").get("/login/")

    _assert_arabic_page(arabic)
    assert "تسجيل الدخول" in page_text(arabic)
    assert '<html lang="en" dir="ltr">' in page_text(english)


def test_the_choice_is_kept_on_the_account_and_wins_over_the_browser(
    seeded_simulator: RunningSimulator, viewer, viewer_client: Client
) -> None:
    viewer_client.post("/language/", {"language": "ar", "next": "/activity/"})
    assert AccountSettings.of(viewer).language == "ar"

    # A new session (another browser that asks for English) gets the account's choice.
    other = Client(HTTP_ACCEPT_LANGUAGE="en")
    other.force_login(viewer)
    assert RTL_HTML in page_text(other.get("/"))

    other.post("/language/", {"language": "en", "next": "/"})
    assert AccountSettings.of(viewer).language == "en"
    assert '<html lang="en" dir="ltr">' in page_text(other.get("/"))


def test_the_switch_is_a_post_form_in_the_top_bar(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    body = page_text(viewer_client.get("/"))

    form = re.search(
        r'<form class="langswitch" method="post" action="/language/">.*?</form>', body, re.S
    )
    assert form
    assert "csrfmiddlewaretoken" in form[0]
    assert 'name="language" value="ar"' in form[0]


def test_an_unknown_language_goes_back_to_the_browsers(viewer, viewer_client: Client) -> None:
    response = viewer_client.post("/language/", {"language": "xx", "next": "https://evil.test/"})

    assert response["Location"] == "/"  # no open redirect either
    assert AccountSettings.of(viewer).language == ""


def test_an_arabic_password_reset_subject_survives_encoding(operator) -> None:
    operator.email = "omar@example.com"
    operator.save()

    Client(HTTP_ACCEPT_LANGUAGE="ar").post("/password-reset/", {"email": "omar@example.com"})

    sent = mail.outbox[0]
    assert ARABIC.search(sent.subject)
    raw = sent.message().as_bytes()
    assert raw.isascii()  # encoded for the wire
    subject = str(make_header(decode_header(message_from_bytes(raw)["Subject"])))
    assert subject == sent.subject
    assert ARABIC.search(sent.body)
