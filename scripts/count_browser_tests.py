"""Count the browser tests (tests/e2e) that ran, from pytest's JUnit XML report (used by CI).

    python scripts/count_browser_tests.py test-artifacts/junit.xml

Prints "browser tests run: N of M" (run: passed or failed, not skipped) and exits 1 when none
ran: a green run without a single browser test proves nothing about the pages.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def main(report: str) -> int:
    tree = ET.parse(report)  # noqa: S314 - our own pytest's report, not foreign input
    cases = [
        case for case in tree.iter("testcase") if case.get("classname", "").startswith("tests.e2e.")
    ]
    run = [case for case in cases if case.find("skipped") is None]
    print(f"browser tests run: {len(run)} of {len(cases)}")
    return 0 if run else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
