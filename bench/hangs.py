"""From a deadlock forming to mpdoctor's report of it, with default options.

    python3 bench/hangs.py [--repeat N] [--method fork|spawn|forkserver] [--hang-after S]

Each round runs `mpdoctor run --mp-log off bench/targets/deadlock_at.py METHOD`: the target
prints `time.time()` just before its parent joins a child that cannot exit (join before drain),
and the bench notes when the first line of mpdoctor's report reaches stderr, and when mpdoctor
exits. Reported: the latency (report - deadlock) and the exit (mpdoctor's end - report), median
and worst. Target (issue): the report within 2 s of the deadlock, whatever --hang-after says
(the default 10 s, and 60 s to show it plays no part). Exit status 1 when the worst misses it.
"""

from __future__ import annotations

import argparse
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from measure import median  # noqa: E402

TARGET = HERE / "targets" / "deadlock_at.py"
TARGET_S = 2.0
REPORT_MARK = b"\xe2\x94\x80 mpdoctor \xe2\x94\x80"  # "─ mpdoctor ─", the report's first rule


def one_round(method: str, hang_after: float | None) -> tuple[float, float, int]:
    """(report - deadlock, exit - report, exit status) of one run, in seconds."""
    argv = [sys.executable, "-m", "mpdoctor", "run", "--mp-log", "off"]
    if hang_after is not None:
        argv += ["--hang-after", str(hang_after)]
    proc = subprocess.Popen(
        [*argv, str(TARGET), method],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    formed = reported = None
    buffers = {proc.stdout: b"", proc.stderr: b""}
    selector = selectors.DefaultSelector()
    for stream in buffers:
        selector.register(stream, selectors.EVENT_READ)
    deadline = time.monotonic() + 60
    try:
        while selector.get_map() and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=1):
                data = os.read(key.fd, 65536)
                now = time.time()
                if not data:
                    selector.unregister(key.fileobj)
                    continue
                buffers[key.fileobj] += data
                if key.fileobj is proc.stdout and formed is None and b"\n" in buffers[proc.stdout]:
                    formed = float(buffers[proc.stdout].split(b"\n", 1)[0])
                if key.fileobj is proc.stderr and reported is None and REPORT_MARK in data:
                    reported = now
        status = proc.wait(timeout=10)
        ended = time.time()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
    if formed is None or reported is None:
        raise SystemExit(f"no deadlock time or no report: {buffers[proc.stderr][-2000:]!r}")
    return reported - formed, ended - reported, status


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--method", default="fork", choices=("fork", "spawn", "forkserver"))
    parser.add_argument("--hang-after", type=float, nargs="*", default=[10.0, 60.0])
    args = parser.parse_args(argv)
    worst_all = 0.0
    print(
        "| --hang-after | start method | report after the deadlock (median / worst) "
        "| mpdoctor exits after the report (median / worst) | exit status | met |"
    )
    print("|---|---|---|---|---|---|")
    for hang_after in args.hang_after:
        rounds = [one_round(args.method, hang_after) for _ in range(args.repeat)]
        latency = [r[0] for r in rounds]
        exits = [r[1] for r in rounds]
        statuses = sorted({r[2] for r in rounds})
        worst_all = max(worst_all, max(latency))
        met = "yes" if max(latency) <= TARGET_S else "**no**"
        print(
            f"| {hang_after:g} s | {args.method} | {median(latency):.2f} s / {max(latency):.2f} s "
            f"| {median(exits):.2f} s / {max(exits):.2f} s | {statuses} | {met} |"
        )
    return 0 if worst_all <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
