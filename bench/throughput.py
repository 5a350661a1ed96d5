"""Throughput near the limit: the status partial of an in-progress row against a bare view.

One operation is kept in progress (the simulator takes 600 s to create a snapshot). wrk, on
loopback, then loads two URLs of the same gunicorn (2 workers, 4 threads each), one after the
other: the status partial (GET /operations/<id>/ with HX-Request: true), and a bare Django view
answering "ok" (``bench/bare/``, added only by ``bench.settings``/``bench.urls``, behind the
same middleware). Both requests carry the same logged-in session cookie, so both pay for the
session and the user. Each URL gets a short warm-up, then `wrk -t2 -c16 -d15s` (5 s in smoke
mode). Every response that is not a 200 is counted (a small wrk Lua script tallies the status
codes; wrk's own "Non-2xx or 3xx" line only counts 4xx and 5xx), beside wrk's socket errors.
Target: partial requests/s >= 0.5 x bare requests/s.

Needs wrk on PATH (Debian: apt-get install wrk).

    python bench/throughput.py [--smoke]
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import running_stack, smoke_mode, start_creates

THREADS = 2
CONNECTIONS = 16
TARGET = 0.5

# Counts the status codes per wrk thread and prints them, summed, when the run ends.
STATUS_SCRIPT = """
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(total) do
    table.insert(parts, status .. "=" .. count)
  end
  table.sort(parts)
  io.write("Status codes: " .. table.concat(parts, " ") .. "\\n")
end
"""


@dataclass
class WrkResult:
    url: str
    requests_per_second: float
    requests: int
    latency_avg: str
    latency_stdev: str
    latency_max: str
    percentiles: dict[str, str] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    socket_errors: dict[str, int] = field(default_factory=dict)
    non_2xx_3xx: int = 0

    @property
    def non_200(self) -> int:
        return sum(count for status, count in self.statuses.items() if status != 200)


def parse_wrk(url: str, output: str) -> WrkResult:
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in ", output, re.MULTILINE)
    latency = re.search(r"^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)", output, re.MULTILINE)
    if not (rate and total and latency):
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    result = WrkResult(
        url=url,
        requests_per_second=float(rate[1]),
        requests=int(total[1]),
        latency_avg=latency[1],
        latency_stdev=latency[2],
        latency_max=latency[3],
    )
    for share, value in re.findall(r"^\s*(50|90|99)%\s+(\S+)", output, re.MULTILINE):
        result.percentiles[share] = value
    statuses = re.search(r"^Status codes: (.*)$", output, re.MULTILINE)
    if statuses:
        for status, count in re.findall(r"(\d+)=(\d+)", statuses[1]):
            result.statuses[int(status)] = int(count)
    sockets = re.search(r"Socket errors: (.*)$", output, re.MULTILINE)
    if sockets:
        result.socket_errors = {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", sockets[1])}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        result.non_2xx_3xx = int(non_2xx[1])
    return result


def run_wrk(url: str, headers: dict[str, str], seconds: int, script: Path) -> WrkResult:
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command += ["-s", str(script), url]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"wrk exited with {completed.returncode}:\n{completed.stderr}")
    return parse_wrk(url, completed.stdout)


def report(label: str, result: WrkResult) -> None:
    errors = sum(result.socket_errors.values())
    codes = " ".join(f"{s}={n}" for s, n in sorted(result.statuses.items())) or "none seen"
    percentiles = ", ".join(f"p{k} {v}" for k, v in result.percentiles.items())
    print(f"  {label:<15} {result.requests_per_second:8.1f} req/s   ({result.requests} requests)")
    print(f"  {'':<15} latency avg {result.latency_avg}, stdev {result.latency_stdev}, "
          f"max {result.latency_max}; {percentiles}")  # fmt: skip
    print(f"  {'':<15} status codes {codes}; not 200: {result.non_200}; "
          f"wrk non-2xx/3xx: {result.non_2xx_3xx}; socket errors: {errors}"
          f"{f' {result.socket_errors}' if errors else ''}")  # fmt: skip


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def main() -> int:
    if shutil.which("wrk") is None:
        print("throughput.py needs wrk on PATH (Debian: apt-get install wrk); not run.")
        return 1
    seconds, warm_up = (5, 1) if smoke_mode() else (15, 3)
    with tempfile.TemporaryDirectory(prefix="dashboard-wrk-") as folder:
        script = Path(folder) / "statuses.lua"
        script.write_text(STATUS_SCRIPT)
        with running_stack(create_seconds=600) as stack:
            session = stack.login()
            operations, _ = start_creates(stack, session, servers=1, per_server=1)
            assert len(operations) == 1, operations
            partial_url = f"{stack.web_url}/operations/{operations[0]}/"
            bare_url = f"{stack.web_url}/bench/bare/"
            cookies = session.cookies
            cookie = f"sessionid={cookies['sessionid']}; csrftoken={cookies['csrftoken']}"
            partial_headers = {"Cookie": cookie, "HX-Request": "true"}
            bare_headers = {"Cookie": cookie}

            def check() -> None:
                partial = session.get(partial_url, headers={"HX-Request": "true"}, timeout=30)
                assert partial.status_code == 200, f"status partial: {partial.status_code}"
                assert f'id="operation-{operations[0]}"' in partial.text, partial.text[:500]
                bare = session.get(bare_url, timeout=30)
                assert bare.status_code == 200, f"bare view: {bare.status_code}"
                assert bare.text == "ok", bare.text[:500]

            check()
            load_before = load()
            run_wrk(partial_url, partial_headers, warm_up, script)
            run_wrk(bare_url, bare_headers, warm_up, script)
            partial = run_wrk(partial_url, partial_headers, seconds, script)
            bare = run_wrk(bare_url, bare_headers, seconds, script)
            check()  # still in progress, still logged in
            load_after = load()

    ratio = partial.requests_per_second / bare.requests_per_second
    met = ratio >= TARGET and partial.non_200 == 0 and bare.non_200 == 0
    print(f"throughput: wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s on loopback, gunicorn "
          f"2 workers x 4 threads, one operation in progress")  # fmt: skip
    print(f"  load average before {load_before}, after {load_after}")
    report("status partial", partial)
    report("bare view", bare)
    if partial.non_200 or bare.non_200:
        print(f"  responses other than 200: {partial.non_200} from the status partial, "
              f"{bare.non_200} from the bare view (they do not count as throughput)")  # fmt: skip
    print(f"  ratio = {ratio:.3f} (target >= {TARGET}): {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
