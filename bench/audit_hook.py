"""Does an audit hook slow pure-Python code?  The probe installs one in every process.

    python3 bench/audit_hook.py [--python PATH] [--rounds N]

Runs the same CPU-bound function in fresh interpreters with and without a no-op
`sys.addaudithook` hook (alternating, best of 3 inside each run), and prints the medians. The
code runs from a file, as programs do: on 3.11.7 the slowdown shows for code read from a file
and not for the same code given with `-c`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

LOOP = """
import sys, time
def burn():
    started = time.process_time()
    total = 0
    for i in range(4_000_000):
        total += i * i % 7
    return time.process_time() - started
if sys.argv[1] == "hook":
    sys.addaudithook(lambda event, args: None)
print(min(burn() for _ in range(3)))
"""


def one(python: str, script: Path, mode: str) -> float:
    out = subprocess.run([python, str(script), mode], capture_output=True, text=True, check=True)
    return float(out.stdout)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args(argv)
    times: dict[str, list[float]] = {"none": [], "hook": []}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "loop.py"
        script.write_text(LOOP)
        for _ in range(args.rounds):
            for mode in times:
                times[mode].append(one(args.python, script, mode))
    plain, hooked = statistics.median(times["none"]), statistics.median(times["hook"])
    print(
        f"{args.python}: no hook {plain:.3f} s, audit hook {hooked:.3f} s, "
        f"{(hooked / plain - 1) * 100:+.1f} %"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
