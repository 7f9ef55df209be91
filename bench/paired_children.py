"""The probe's wall and CPU time per spawn child, from pairs of children of one parent.

    python3 bench/paired_children.py [--pairs N]

The interpreter that runs it is the one measured (multiprocessing spawns sys.executable).

bench/run.py's `children` figure compares whole runs (100 children each), so each round carries
the machine's drift over several seconds: on a shared 2-core VM its rounds spread over a
millisecond per child. Here one plain parent (no probe, no monitor) starts spawn children one
after another and switches `os.environ` before each: every pair is a plain child and a probed
child (the environment `mpdoctor run --mp-log off` gives, in random order), started within
about 80 ms of each other. The difference within each pair cancels slow drift; the figure is
the median of the differences (and their mean with its standard error).

This is the spawn child's share alone: what the probe costs inside the child, from its exec to
its exit as the parent's join() sees it. The parent's share (`child-start`, `join`,
`child-exit` events) and the monitor's (sampling, the report's row) are in run.py's figure, not
here.
"""

from __future__ import annotations

import os
import sys


def nothing() -> None:
    pass


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(pairs: int) -> dict[str, list[tuple[float, float]]]:
    """(wall, cpu) of each child, by environment ("plain", "probed"); two warm-up pairs."""
    import multiprocessing
    import random
    import time

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.dirname(here))  # this checkout's mpdoctor, installed or not
    from mpdoctor.collect.session import create_session, target_env

    sys.path.pop(0)  # spawn children get the parent's sys.path: keep it as plain as it was
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "MPDOCTOR_"))}
    session = create_session()
    envs = {"plain": base, "probed": target_env(session, "off", base=base)}
    context = multiprocessing.get_context("spawn")
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in envs}
    try:
        for i in range(pairs + 2):
            order = list(envs)
            random.shuffle(order)
            for name in order:
                os.environ.clear()
                os.environ.update(envs[name])
                cpu, started = _children_cpu(), time.perf_counter()
                child = context.Process(target=nothing)
                child.start()
                child.join()
                wall = time.perf_counter() - started
                if child.exitcode != 0:
                    raise SystemExit(f"paired_children: a {name} child exited {child.exitcode}")
                if i >= 2:
                    samples[name].append((wall, _children_cpu() - cpu))
    finally:
        os.environ.clear()
        os.environ.update(base)
        session.cleanup()
    return samples


def main() -> int:
    import argparse
    import statistics

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=400)
    args = parser.parse_args()
    samples = measure(args.pairs)
    print(f"python: {sys.executable}, {args.pairs} pairs")
    print(f"plain child: {statistics.median(w for w, _ in samples['plain']) * 1000:.2f} ms wall")
    for index, label in ((0, "wall"), (1, "cpu")):
        diffs = [
            (probed[index] - plain[index]) * 1000
            for probed, plain in zip(samples["probed"], samples["plain"], strict=True)
        ]
        error = statistics.stdev(diffs) / len(diffs) ** 0.5
        print(
            f"probe per spawn child, {label}: median {statistics.median(diffs):+.3f} ms, "
            f"mean {statistics.mean(diffs):+.3f} ms (standard error {error:.3f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
