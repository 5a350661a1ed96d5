"""The Arabic catalogue stays complete: every message of the code and templates is in it and
translated (nothing empty, nothing fuzzy), the compiled catalogue matches it, and counts take
Arabic's six plural forms."""

from __future__ import annotations

import gettext
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import translation
from django.utils.translation import ngettext

from snapshots_ui.templatetags.snapshot_tags import duration
from tests.catalogue import ARABIC_MO, ARABIC_PO, BASE_DIR, header, read_po

ARABIC_PLURALS = (
    "nplurals=6; plural=n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : "
    "n%100>=11 && n%100<=99 ? 4 : 5;"
)
COUNTS = (0, 1, 2, 3, 11, 100)
# What makemessages must not read (as when the catalogue was made).
NOT_SCANNED = (".git", ".venv", "tests", "bench", "staticfiles", "node_modules", "__pycache__")


def test_the_catalogue_declares_arabics_six_plural_forms() -> None:
    assert f"Plural-Forms: {ARABIC_PLURALS}" in header()
    assert "Language: ar" in header()


def test_every_message_is_translated_and_none_is_fuzzy() -> None:
    entries = read_po()

    assert len(entries) > 500
    assert [e.msgid for e in entries if "fuzzy" in e.flags] == []
    assert [e.msgid for e in entries if e.obsolete] == []
    assert [e.msgid for e in entries if not e.msgstr or not all(e.msgstr)] == []
    assert [e.msgid for e in entries if e.msgid_plural and len(e.msgstr) != 6] == []


def test_the_compiled_catalogue_matches_the_po_file() -> None:
    """The .mo is committed (no gettext tools needed to run the dashboard): it must be
    compiled again after every change to the .po (compilemessages)."""
    with ARABIC_MO.open("rb") as compiled:
        mo = gettext.GNUTranslations(compiled)

    stale = []
    for entry in read_po():
        if entry.msgid_plural:
            got = [mo.ngettext(entry.msgid, entry.msgid_plural, n) for n in COUNTS]
            want = [entry.msgstr[i] for i in range(6)]
        else:
            got, want = [mo.gettext(entry.msgid)], entry.msgstr
        if got != want:
            stale.append(entry.msgid)
    assert stale == []


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext tools not installed")
def test_msgfmt_check_passes() -> None:
    result = subprocess.run(
        ["msgfmt", "--check", "--output-file=/dev/null", str(ARABIC_PO)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="gettext tools not installed")
def test_makemessages_finds_nothing_new_and_nothing_removed(tmp_path: Path) -> None:
    """makemessages run on a copy of the project: the catalogue has exactly its messages."""
    copy = tmp_path / "project"
    shutil.copytree(BASE_DIR, copy, ignore=shutil.ignore_patterns(*NOT_SCANNED))
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "ar", "--no-location"],
        cwd=copy,
        check=True,
        capture_output=True,
    )

    def messages(path: Path) -> set[tuple[str, str | None]]:
        return {(e.msgid, e.msgid_plural) for e in read_po(path) if not e.obsolete}

    fresh = messages(copy / "locale" / "ar" / "LC_MESSAGES" / "django.po")
    committed = messages(ARABIC_PO)
    assert sorted(fresh - committed) == [], "new messages: run makemessages and translate"
    assert sorted(committed - fresh) == [], "messages no longer used: run makemessages"
    untranslated = [
        e.msgid
        for e in read_po(copy / ARABIC_PO.relative_to(BASE_DIR))
        if "fuzzy" in e.flags or not all(e.msgstr)
    ]
    assert untranslated == []


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (0, "لم تُحذف أي لقطة"),
        (1, "حُذفت لقطة واحدة"),
        (2, "حُذفت لقطتان"),
        (3, "حُذفت 3 لقطات"),
        (11, "حُذفت 11 لقطة"),
        (100, "حُذفت 100 لقطة"),
    ],
)
def test_a_count_takes_the_arabic_plural_form(count: int, expected: str) -> None:
    with translation.override("ar"):
        sentence = ngettext("%(n)s snapshot deleted", "%(n)s snapshots deleted", count)
    assert sentence % {"n": count} == expected


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (0, "لا خوادم لدى المزوّد."),
        (1, "خادم واحد لدى المزوّد."),
        (2, "خادمان لدى المزوّد."),
        (3, "3 خوادم لدى المزوّد."),
        (11, "11 خادمًا لدى المزوّد."),
        (100, "100 خادم لدى المزوّد."),
    ],
)
def test_the_server_count_takes_the_arabic_plural_form(count: int, expected: str) -> None:
    with translation.override("ar"):
        sentence = ngettext(
            "%(n)s server at the provider.", "%(n)s servers at the provider.", count
        )
    assert sentence % {"n": count} == expected


def test_durations_take_plural_forms_in_arabic_and_stay_short_in_english() -> None:
    assert duration(90) == "1 min 30 s"
    assert duration(3600 + 5 * 60) == "1 h 5 min"
    with translation.override("ar"):
        assert duration(2 * 60) == "2 دقيقتان"
        assert duration(5 * 60) == "5 دقائق"
        assert duration(11 * 60) == "11 دقيقة"
        assert duration(3 * 3600) == "3 ساعات"
