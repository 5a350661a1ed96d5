"""The style sheet uses logical properties only, so a right-to-left page needs no rule of its
own: no left/right in a property name or value (margin-left, float: right, text-align: left,
border-top-right-radius, ...)."""

from __future__ import annotations

import re

from tests.catalogue import BASE_DIR

APP_CSS = BASE_DIR / "static" / "css" / "app.css"
PHYSICAL = re.compile(r"\b(left|right)\b", re.IGNORECASE)


def _declarations() -> list[tuple[int, str]]:
    """(line number, text) of every line, comments removed."""
    text = re.sub(
        r"/\*.*?\*/", lambda m: "\n" * m.group().count("\n"), APP_CSS.read_text(), flags=re.S
    )
    return list(enumerate(text.splitlines(), start=1))


def test_the_style_sheet_has_no_physical_left_or_right() -> None:
    physical = [f"{n}: {line.strip()}" for n, line in _declarations() if PHYSICAL.search(line)]

    assert physical == []


def test_the_check_would_catch_a_physical_property() -> None:
    assert PHYSICAL.search(".x { margin-left: 1rem; }")
    assert PHYSICAL.search(".x { text-align: right; }")
    assert not PHYSICAL.search(".x { margin-inline-start: 1rem; text-align: end; }")
