"""Measure what the probe costs (not a test; prints numbers for docs and reviews).

    python3 bench/probe_cost.py [--runs 40] [--python PATH ...]

For each interpreter:
* startup: `-X importtime -c pass` with the probe and a fresh session per run; the `sitecustomize`
  line's cumulative time is everything the probe adds at startup (its imports, opening the event
  file, writing `start`, registering the hooks, chaining). Also without MPDOCTOR_SESSION (chaining
  only) and the plain interpreter's failed `sitecustomize` lookup for reference.
* wall: `python -c pass` with and without the probe, alternated; difference of the medians.
* audit hook: ns per audited event (sys._getframe raises one) with the probe's hook installed,
  against no hook and against a no-op Python hook.
* multiprocessing: cumulative import time of `multiprocessing.pool` with and without the probe
  (the hooks installed at import).
Bytecode caches are written (PYTHONDONTWRITEBYTECODE is dropped), as in an installed package.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "probe"))
from probe_support import PROBE_ROOT, SUPPORTED, find_python

HOOK_BENCH = r"""
import sys, time
N = 200000
def loop():
    g = sys._getframe
    t = time.perf_counter()
    for _ in range(N):
        g()
    return (time.perf_counter() - t) / N * 1e9
base = min(loop() for _ in range(5))
if sys.argv[1] == "probe":
    sys.path.insert(0, sys.argv[2])
    import _mpdoctor_probe
    sys.addaudithook(_mpdoctor_probe._audit_hook)
else:
    sys.addaudithook(lambda event, args: None)
hooked = min(loop() for _ in range(5))
print("%.1f %.1f" % (base, hooked))
"""


def _env(session: str | None, probe: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "MPDOCTOR_"))}
    if probe:
        env["PYTHONPATH"] = str(PROBE_ROOT)
    if session:
        env["MPDOCTOR_SESSION"] = session
        env["MPDOCTOR_MP_LOG"] = "off"
    return env


def _importtime(python: str, code: str, module: str, session: bool, probe: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        if session:
            os.mkdir(os.path.join(tmp, "events"))
        err = subprocess.run(
            [python, "-X", "importtime", "-c", code],
            env=_env(tmp if session else None, probe),
            capture_output=True,
            text=True,
            check=True,
        ).stderr
    # the outermost line for the module: the last one, least indented
    pattern = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| ( *)" + re.escape(module) + "$")
    found = [(len(m.group(2)), int(m.group(1))) for m in map(pattern.match, err.splitlines()) if m]
    return float(min(found)[1]) if found else 0.0


def _wall(python: str, runs: int) -> tuple[float, float]:
    plain, probed = [], []
    with tempfile.TemporaryDirectory() as tmp:
        os.mkdir(os.path.join(tmp, "events"))
        for _ in range(runs):
            for target, probe in ((plain, False), (probed, True)):
                t = time.perf_counter()
                subprocess.run([python, "-c", "pass"], env=_env(tmp if probe else None, probe))
                target.append(time.perf_counter() - t)
    return statistics.median(plain) * 1e3, statistics.median(probed) * 1e3


def measure(python: str, runs: int) -> None:
    version = subprocess.run(
        [python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
        capture_output=True,
        text=True,
        env=_env(None, False),
    ).stdout.strip()
    _importtime(python, "pass", "sitecustomize", True, True)  # write the bytecode caches
    startup = [_importtime(python, "pass", "sitecustomize", True, True) for _ in range(runs)]
    chain = [_importtime(python, "pass", "sitecustomize", False, True) for _ in range(runs)]
    lookup = [_importtime(python, "pass", "sitecustomize", False, False) for _ in range(runs)]
    plain_ms, probed_ms = _wall(python, runs)
    mp_code = "import multiprocessing.pool"
    mp_plain = [
        _importtime(python, mp_code, "multiprocessing.pool", False, False) for _ in range(runs // 2)
    ]
    mp_probed = [
        _importtime(python, mp_code, "multiprocessing.pool", True, True) for _ in range(runs // 2)
    ]
    hook = {}
    for kind in ("probe", "noop"):
        out = subprocess.run(
            [python, "-c", HOOK_BENCH, kind, str(PROBE_ROOT)],
            env=_env(None, False),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        hook[kind] = (float(out[0]), float(out[1]))
    med = statistics.median
    print(f"Python {version} ({runs} runs)")
    print(
        f"  startup (sitecustomize cumulative): median {med(startup):.0f} us, "
        f"min {min(startup):.0f} us"
    )
    print(f"  chaining only (no session):        median {med(chain):.0f} us")
    print(f"  plain python's sitecustomize lookup: median {med(lookup):.0f} us")
    print(
        f"  wall `-c pass`: plain {plain_ms:.2f} ms, probed {probed_ms:.2f} ms "
        f"(+{probed_ms - plain_ms:.2f} ms)"
    )
    print(
        f"  import multiprocessing.pool: plain {med(mp_plain):.0f} us, "
        f"probed {med(mp_probed):.0f} us"
    )
    base, probed_hook = hook["probe"]
    base2, noop = hook["noop"]
    print(
        f"  audit event (sys._getframe): {base:.0f} ns without hook, {probed_hook:.0f} ns with "
        f"the probe's hook (+{probed_hook - base:.0f} ns); "
        f"a no-op lambda hook: +{noop - base2:.0f} ns"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--python", action="append")
    args = parser.parse_args()
    pythons = args.python or [str(p) for v in SUPPORTED if (p := find_python(v))]
    for python in pythons:
        measure(python, args.runs)


if __name__ == "__main__":
    main()
