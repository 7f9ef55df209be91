"""Instructions the probe adds per spawned child, counted by valgrind (deterministic).

    python3 bench/probe_instructions.py [--python PATH]

Wall-clock figures on a shared 2-core VM move by a millisecond from run to run; instruction
counts do not. This runs `bench/targets/spawn_children.py` under callgrind with
`--trace-children=yes`, plain and probed (no monitor: the probe's own cost), with 1 child and
with 3, and prints:

* the spawn child: the whole process (`spawn_main`, the unpickling, the target, the exit);
* the parent's share of one child: its count with 3 children minus its count with 1, halved
  (the first child also pays one-time costs: the resource tracker, modules loaded at first
  use; the probe's share is its `child-start` and `child-exit` events, the stack walk for the
  site);
* their sum: what one more spawned child costs in instructions.

PYTHONHASHSEED is fixed so that set and dict orders, and with them the counts, repeat. A change
to the probe can still move a count by about 1 M when the objects it allocates make a full
garbage collection happen, or not, at a different moment; compare figures of one run, not
across unrelated changes. Kernel time (creating the event file, writing events) is not counted:
bench/run.py's `children` figure has it.

Use an interpreter without site-wide `.pth` files that import at startup (a venv): imports made
before `sitecustomize` runs also search the probe's PYTHONPATH entry, which is the machine's
cost, not the probe's.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's mpdoctor and probe, installed or not

from mpdoctor.collect.session import create_session, target_env  # noqa: E402

TARGET = HERE / "targets" / "spawn_children.py"


def instructions(python: str, env: dict[str, str], children: int) -> dict[str, int]:
    """Instructions of each process of one run: "parent", "child" (the first spawn child)..."""
    argv = [python, str(TARGET), str(children)]
    subprocess.run(argv, env=env, check=True)  # writes the .pyc files
    out_dir = tempfile.mkdtemp(prefix="mpdoctor-callgrind-")
    try:
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--trace-children=yes",
                f"--callgrind-out-file={out_dir}/out.%p",
                *argv,
            ],
            env=env,
            capture_output=True,
            check=True,
        )
        counts: dict[str, int] = {}
        paths = glob.glob(os.path.join(out_dir, "out.*"))
        for path in sorted(paths, key=lambda p: int(p.rsplit(".", 1)[1])):  # by pid: start order
            text = Path(path).read_text(errors="replace")
            total = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
            command = re.search(r"^cmd: (.*)$", text, re.M)
            if total is None or command is None:
                raise SystemExit(f"probe_instructions: no count in {path}")
            counts.setdefault(_process_name(command.group(1)), int(total.group(1)))
        return counts
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def plain_env() -> dict[str, str]:
    """This environment without Python's and mpdoctor's variables, hash seed fixed (set and
    dict orders, and with them the counts, repeat)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "MPDOCTOR_"))}
    env["PYTHONHASHSEED"] = "0"
    return env


def _process_name(command: str) -> str:
    if "spawn_main" in command:
        return "child"
    if "resource_tracker" in command:
        return "tracker"
    return "parent"


def parse_args(doc: str, tool: str) -> argparse.Namespace:
    """`--python`, after checking that valgrind is there (exit 2 otherwise)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print(f"{tool}: valgrind is not installed", file=sys.stderr)
        raise SystemExit(2)
    return args


def main() -> int:
    args = parse_args(__doc__, "probe_instructions")
    base = plain_env()
    session = create_session()
    try:
        probed = target_env(session, "off", base=base)  # as `mpdoctor run --mp-log off` sets it
        plain1, plain3 = (instructions(args.python, base, n) for n in (1, 3))
        probed1, probed3 = (instructions(args.python, probed, n) for n in (1, 3))
    finally:
        session.cleanup()
    rows = [
        ("spawn child", plain1["child"], probed1["child"]),
        (
            "parent, per child",
            (plain3["parent"] - plain1["parent"]) // 2,
            (probed3["parent"] - probed1["parent"]) // 2,
        ),
    ]
    rows.append(("one more child", rows[0][1] + rows[1][1], rows[0][2] + rows[1][2]))
    print(f"python: {args.python}")
    print(f"{'':18s} {'plain':>13s} {'probed':>13s} {'probe adds':>12s}")
    for name, plain, with_probe in rows:
        added = with_probe - plain
        share = f"{added / plain * 100:+.1f} %"
        print(f"{name:18s} {plain:>13,} {with_probe:>13,} {added:>+12,} ({share})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
