"""Keep modules and functions small enough to read (run by `make lint`).

- No Python module over MAX_MODULE_LINES lines (tests included), unless one of its first
  lines says why with "Longer than 400 lines:".
- No function over MAX_FUNCTION_LINES lines in application code.

Migrations are generated and not counted. Exits 1 and lists every offender.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50
EXCUSE = "Longer than 400 lines:"
APPLICATION = ("snapshots_ui/", "provider_sim/", "dashboard/")


def tracked_python_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return [ROOT / name for name in listed if "/migrations/" not in name and (ROOT / name).exists()]


def offences(path: Path) -> list[str]:
    relative = path.relative_to(ROOT).as_posix()
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found = []
    if len(lines) > MAX_MODULE_LINES and not any(EXCUSE in line for line in lines[:5]):
        found.append(f"{relative}: {len(lines)} lines (at most {MAX_MODULE_LINES})")
    if relative.startswith(APPLICATION):
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.append(
                        f"{relative}:{node.lineno}: {node.name}() has {length} lines "
                        f"(at most {MAX_FUNCTION_LINES})"
                    )
    return found


def main() -> int:
    found = [offence for path in tracked_python_files() for offence in offences(path)]
    for offence in found:
        print(offence)
    if found:
        print(f"{len(found)} too long; split them, or say why in the module's first lines.")
        return 1
    print("Module and function sizes: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
