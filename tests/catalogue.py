"""Reading the Arabic catalogue in tests: a small reader of the .po format (enough for what
makemessages writes) so the checks need no gettext tools."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
ARABIC_PO = BASE_DIR / "locale" / "ar" / "LC_MESSAGES" / "django.po"
ARABIC_MO = ARABIC_PO.with_suffix(".mo")


@dataclass
class Entry:
    msgid: str
    msgid_plural: str | None = None
    msgstr: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False


_KEYWORD = re.compile(r"^(msgid_plural|msgid|msgstr(?:\[\d+\])?) (\".*\")$")


def read_po(path: Path = ARABIC_PO) -> list[Entry]:
    """Every entry but the header, in file order."""
    entries: list[Entry] = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        parts: dict[str, str] = {}
        flags: set[str] = set()
        obsolete = False
        key = ""
        for line in block.splitlines():
            if line.startswith("#~"):
                obsolete = True
                line = line[2:].strip()
            if line.startswith("#,"):
                flags |= {flag.strip() for flag in line[2:].split(",")}
                continue
            if line.startswith("#") or not line.strip():
                continue
            match = _KEYWORD.match(line)
            if match:
                key = match.group(1)
                parts[key] = ast.literal_eval(match.group(2))
            else:
                parts[key] += ast.literal_eval(line)
        if "msgid" not in parts or parts["msgid"] == "":
            continue
        strs = [parts[k] for k in sorted(parts) if k.startswith("msgstr")]
        entries.append(Entry(parts["msgid"], parts.get("msgid_plural"), strs, flags, obsolete))
    return entries


def header(path: Path = ARABIC_PO) -> str:
    text = path.read_text(encoding="utf-8")
    start = text.index('msgid ""')
    return "".join(
        ast.literal_eval(line) for line in text[start:].split("\n\n")[0].splitlines()[2:]
    )
