"""Where the probe's instructions in a spawn child go, layer by layer (valgrind, deterministic).

    python3 bench/probe_layers.py [--python PATH]

`bench/probe_instructions.py` gives the probe's total per spawn child; this splits it. Each
layer runs `bench/targets/spawn_children.py 1` under callgrind with a copy of the probe root in
which everything above that layer is cut off, and counts the spawn child's instructions:

    plain         no probe
    path          the probe's directory on PYTHONPATH, no session: sitecustomize only chains
    package       the session set: the package loads, start() returns at once
    started       the probe starts (event file, start event, at-fork hooks, finder), no hook runs
    stacks off    the same, MPDOCTOR_STACK_SIGNAL=0: no stacks file, no faulthandler
    _mp loaded    the finder loads `_mp` at the first watched import, hooks nothing
    full          the probe as shipped

The copies sit side by side in one temporary directory; `full` at the installed path is
printed too. A layer's figure is exact for that configuration, but a step between two layers is
only good to about 0.3 M: the objects a layer allocates move the child's garbage collections,
and a full collection more or less is worth that much (compare layers of one run). The cuts are
text edits of the copies: when the probe's code changes under them, this stops with the edit
that no longer applies.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from probe_instructions import instructions, parse_args, plain_env  # noqa: E402

from mpdoctor.collect.session import (  # noqa: E402
    PROBE_ROOT,
    STACK_SIGNAL_VAR,
    create_session,
    target_env,
)

INIT = "_mpdoctor_probe/__init__.py"
# layer -> edits of its copy (file, text, replacement); None: no copy (plain, or as shipped)
CUTS: dict[str, list[tuple[str, str, str]]] = {
    "package": [(INIT, '    session = os.environ.get("MPDOCTOR_SESSION")\n', "    return\n")],
    "started": [(INIT, "        if name not in _watched or not on:\n", "        if True:\n")],
    "_mp loaded": [
        (
            INIT,
            "        return _mp.hooked_spec(self, name, path, target)\n",
            "        return None\n",
        )
    ],
    "full": [],
}


def make_copy(into: Path, edits: list[tuple[str, str, str]], python: str) -> Path:
    shutil.copytree(PROBE_ROOT, into, ignore=shutil.ignore_patterns("__pycache__"))
    for name, old, new in edits:
        path = into / name
        text = path.read_text()
        if old not in text:
            raise SystemExit(f"probe_layers: the probe changed, {name} has no {old.strip()!r}")
        path.write_text(text.replace(old, new, 1))
    subprocess.run([python, "-m", "compileall", "-q", str(into)], check=True)
    return into


def main() -> int:
    args = parse_args(__doc__, "probe_layers")
    plain = plain_env()
    session = create_session()
    work = Path(tempfile.mkdtemp(prefix="mpdoctor-layers-"))
    try:
        probed = target_env(session, "off", base=plain)
        roots = {name: make_copy(work / f"{i:02d}", cuts, args.python) for i, (name, cuts) in
                 enumerate(CUTS.items())}  # fmt: skip
        runs: list[tuple[str, dict[str, str]]] = [
            ("plain", plain),
            ("path", {**plain, "PYTHONPATH": str(roots["full"])}),
            ("package", {**probed, "PYTHONPATH": str(roots["package"])}),
            ("started", {**probed, "PYTHONPATH": str(roots["started"])}),
            (
                "stacks off",
                {**probed, "PYTHONPATH": str(roots["started"]), STACK_SIGNAL_VAR: "0"},
            ),
            ("_mp loaded", {**probed, "PYTHONPATH": str(roots["_mp loaded"])}),
            ("full", {**probed, "PYTHONPATH": str(roots["full"])}),
            (f"full at {PROBE_ROOT}", probed),
        ]
        print(f"python: {args.python}")
        print(f"{'layer':22s} {'spawn child':>13s} {'over plain':>12s} {'over previous':>14s}")
        base = previous = None
        for name, env in runs:
            count = instructions(args.python, env, 1)["child"]
            base = count if base is None else base
            shown = previous is not None and not name.startswith("full at")
            step = f"{count - previous:+,}" if shown else ""
            print(f"{name[:22]:22s} {count:>13,} {count - base:>+12,} {step:>14s}", flush=True)
            if not name.startswith(("stacks off", "full at")):
                previous = count
    finally:
        session.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
