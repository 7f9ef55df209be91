"""Instructions the probe adds to a spawned child, counted by valgrind (deterministic).

    python3 bench/probe_instructions.py [--python PATH]

Wall-clock figures on a shared 2-core VM move by a millisecond from run to run; instruction
counts do not. This runs what a spawn child imports (`multiprocessing.spawn`,
`multiprocessing.resource_tracker`, with the child's argv) under callgrind, plain and probed,
and prints both counts and the difference. Kernel time (creating the event file, writing
events) is not counted: bench/run.py's `children` figure has it.

Use an interpreter without site-wide `.pth` files that import at startup (a venv): imports made
before `sitecustomize` runs also search the probe's PYTHONPATH entry, which is the machine's
cost, not the probe's.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROBE_ROOT = Path(__file__).resolve().parent.parent / "mpdoctor" / "_probe_root"
CHILD = (
    "import sys; sys.argv[:] = ['-c', '--multiprocessing-fork']; "
    "import multiprocessing.spawn, multiprocessing.resource_tracker"
)


def instructions(python: str, env: dict[str, str]) -> int:
    subprocess.run([python, "-c", CHILD], env=env, check=True)  # writes the .pyc files
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", python, "-c", CHILD],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    match = re.search(r"refs:\s+([\d,]+)", out)
    if match is None:
        raise SystemExit(f"probe_instructions: no count in valgrind's output:\n{out}")
    return int(match.group(1).replace(",", ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("probe_instructions: valgrind is not installed", file=sys.stderr)
        return 2
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "MPDOCTOR_"))}
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    session = tempfile.mkdtemp(prefix="mpdoctor-bench-", dir=shm)
    try:
        os.mkdir(os.path.join(session, "events"))
        probed = {**base, "PYTHONPATH": str(PROBE_ROOT), "MPDOCTOR_SESSION": session}
        plain_n = instructions(args.python, base)
        probed_n = instructions(args.python, probed)
    finally:
        shutil.rmtree(session, ignore_errors=True)
    print(f"python: {args.python}")
    print(f"plain  {plain_n:>14,} instructions")
    print(
        f"probed {probed_n:>14,} instructions  (+{probed_n - plain_n:,}, "
        f"+{(probed_n - plain_n) / plain_n * 100:.1f} %)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
