"""mpdoctor's overhead, each figure measured against plain python in the same run.

    python3 bench/run.py [--repeat N] [--python PATH] [--wrap "CMD"] [--only NAMES] [--json FILE]

Four measurements (targets from issue 2), every run of the wrapped side alternating with a run
of the plain side so drift in machine load hits both alike; medians are reported:

* fixed:    `mpdoctor run` of an empty script, minus plain python        (target <= 150 ms)
* children: 100 spawned Processes one after another, `--mp-log off`; the
            cost per child is ((wrapped - plain) at 100 - (wrapped - plain)
            at 0 children) / 100, computed within each round (the four
            runs of a round are adjacent), median over rounds             (target <= 1 ms)
* pool:     a CPU-bound Pool.map of a few seconds; the cost beyond the
            fixed one, as a share of the plain time                       (target <= 2 %)
* monitor:  mpdoctor's own process CPU (psutil) while the program holds
            32 idle processes, over a window after they have started     (target < 1 % of a core)

`--wrap none` measures plain python against itself: the harness's own noise floor.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from measure import Sample, median, run_once  # noqa: E402

TARGETS = HERE / "targets"
DEFAULT_WRAP = f"{shlex.quote(sys.executable)} -m mpdoctor run --mp-log=off"
CHILDREN = 100
IDLE = 32
IDLE_SECONDS = 9.0
WINDOW = (4.0, 8.0)  # seconds after launch: the 32 children have started, none has ended


@dataclass
class Result:
    name: str
    plain: list[float] = field(default_factory=list)
    wrapped: list[float] = field(default_factory=list)
    plain_cpu: list[float] = field(default_factory=list)
    wrapped_cpu: list[float] = field(default_factory=list)
    value: float = 0.0  # the figure compared with the target
    unit: str = ""
    target: str = ""
    ok: bool = False
    note: str = ""


class Bench:
    def __init__(self, python: str, wrap: list[str], repeat: int) -> None:
        self.python = python
        self.wrap = wrap
        self.repeat = repeat
        # Byte-compiled modules, as an installed mpdoctor has them: the warm-up runs write them.
        self.env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        # mpdoctor runs as users run it, without --python: `python` on PATH is the interpreter
        # under test (its own directory first). --python is validated by starting it once,
        # which `mpdoctor run script.py` does not do.
        self.path_python = os.path.join(os.path.dirname(python), "python")
        if os.access(self.path_python, os.X_OK):
            bindir = os.path.dirname(python)
            self.env["PATH"] = bindir + os.pathsep + self.env.get("PATH", "")

    def run(self, argv: list[str], window: tuple[float, float] | None = None) -> Sample:
        return run_once(argv, window=window, env=self.env)

    def plain_argv(self, script: str, *args: str) -> list[str]:
        return [self.python, str(TARGETS / script), *args]

    def wrapped_argv(self, script: str, *args: str) -> list[str]:
        if not self.wrap:
            return self.plain_argv(script, *args)
        if os.access(self.path_python, os.X_OK):
            return [*self.wrap, str(TARGETS / script), *args]
        return [*self.wrap, f"--python={self.python}", str(TARGETS / script), *args]

    def pairs(
        self,
        script: str,
        *args: str,
        repeat: int | None = None,
        window: tuple[float, float] | None = None,
    ) -> tuple[list[Sample], list[Sample]]:
        """Alternate plain and wrapped runs (order flipped each round); one warm-up each."""
        plain: list[Sample] = []
        wrapped: list[Sample] = []
        rounds = self.repeat if repeat is None else repeat
        self.run(self.plain_argv(script, *args))
        self.run(self.wrapped_argv(script, *args))
        for i in range(rounds):
            order = [(plain, self.plain_argv), (wrapped, self.wrapped_argv)]
            for into, make in order if i % 2 == 0 else order[::-1]:
                sample = self.run(make(script, *args), window=window)
                if sample.returncode != 0:
                    raise SystemExit(
                        f"bench: {' '.join(make(script, *args))} exited {sample.returncode}"
                    )
                into.append(sample)
        return plain, wrapped

    def fixed(self) -> Result:
        plain, wrapped = self.pairs("empty.py", repeat=self.repeat * 2)
        r = _result("fixed", plain, wrapped)
        r.value = (median(r.wrapped) - median(r.plain)) * 1000
        r.unit, r.target, r.ok = "ms over plain", "<= 150 ms", r.value <= 150
        return r

    def children(self) -> Result:
        """Per-child cost from four adjacent runs per round (plain and wrapped, 0 and CHILDREN
        children), so each round's estimate sees one machine load; median over rounds."""
        runs = [
            (self.plain_argv, "0"),
            (self.wrapped_argv, "0"),
            (self.plain_argv, str(CHILDREN)),
            (self.wrapped_argv, str(CHILDREN)),
        ]
        for make, n in runs:
            self.run(make("spawn_children.py", n))  # warm-up
        per_child: list[float] = []
        cpu_per_child: list[float] = []
        r = Result("children")
        for i in range(self.repeat):
            got: dict[tuple[int, str], Sample] = {}
            order = list(enumerate(runs))
            for k, (make, n) in order if i % 2 == 0 else order[::-1]:
                argv = make("spawn_children.py", n)
                sample = self.run(argv)
                if sample.returncode != 0:
                    raise SystemExit(f"bench: {' '.join(argv)} exited {sample.returncode}")
                got[(k, n)] = sample
            p0, w0, pn, wn = (got[(k, n)] for k, (_, n) in enumerate(runs))
            per_child.append(((wn.wall_s - pn.wall_s) - (w0.wall_s - p0.wall_s)) / CHILDREN)
            cpu_per_child.append(
                ((wn.tree_cpu_s - pn.tree_cpu_s) - (w0.tree_cpu_s - p0.tree_cpu_s)) / CHILDREN
            )
            r.plain.append(pn.wall_s)
            r.wrapped.append(wn.wall_s)
        r.value = median(per_child) * 1000
        quartiles = sorted(per_child)
        low, high = quartiles[len(quartiles) // 4], quartiles[(3 * len(quartiles)) // 4]
        r.unit, r.target, r.ok = "ms per child", "<= 1 ms", r.value <= 1.0
        r.note = (
            f"{CHILDREN} spawn children; per-round estimates {low * 1000:.2f}-{high * 1000:.2f} ms "
            f"(quartiles); CPU of the whole tree per child {median(cpu_per_child) * 1000:.2f} ms"
        )
        return r

    def pool(self, fixed_s: float) -> Result:
        plain, wrapped = self.pairs("pool_cpu.py")
        r = _result("pool", plain, wrapped)
        extra = median(r.wrapped) - median(r.plain) - fixed_s
        r.value = extra / median(r.plain) * 100
        cpu = (median(r.wrapped_cpu) - median(r.plain_cpu)) / median(r.plain_cpu) * 100
        r.unit, r.target, r.ok = "% beyond fixed", "<= 2 %", r.value <= 2.0
        r.note = (
            f"16 tasks on Pool(2); fixed cost subtracted: {fixed_s * 1000:.0f} ms; "
            f"CPU of the whole tree (fixed cost included): {cpu:+.2f} %"
        )
        return r

    def monitor(self) -> Result:
        plain, wrapped = self.pairs(
            "idle_children.py",
            str(IDLE),
            str(IDLE_SECONDS),
            repeat=max(2, self.repeat // 4),
            window=WINDOW,
        )
        r = Result("monitor")
        span = WINDOW[1] - WINDOW[0]
        r.plain = [s.window_cpu_s / span * 100 for s in plain]  # type: ignore[operator]
        r.wrapped = [s.window_cpu_s / span * 100 for s in wrapped]  # type: ignore[operator]
        r.value = median(r.wrapped)
        r.unit, r.target, r.ok = "% of a core", "< 1 %", r.value < 1.0
        r.note = (
            f"{IDLE} idle children, CPU of the top process from {WINDOW[0]:.0f} to "
            f"{WINDOW[1]:.0f} s; plain python's main process: {median(r.plain):.2f} %"
        )
        return r


def _result(name: str, plain: list[Sample], wrapped: list[Sample]) -> Result:
    return Result(
        name,
        [s.wall_s for s in plain],
        [s.wall_s for s in wrapped],
        [s.tree_cpu_s for s in plain],
        [s.tree_cpu_s for s in wrapped],
    )


def render(results: list[Result], header: dict) -> str:
    lines = [
        f"date: {header['date']}  machine: {header['machine']}",
        f"python: {header['python']}  wrap: {header['wrap']}  repeat: {header['repeat']}",
        "",
        "| measure | plain (median) | mpdoctor (median) | figure | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.name == "monitor":
            plain, wrapped = f"{median(r.plain):.2f} %", f"{median(r.wrapped):.2f} %"
        else:
            plain, wrapped = f"{median(r.plain):.3f} s", f"{median(r.wrapped):.3f} s"
        lines.append(
            f"| {r.name} | {plain} | {wrapped} | {r.value:.2f} {r.unit} | {r.target} "
            f"| {'yes' if r.ok else 'NO'} |"
        )
    lines.append("")
    lines.extend(f"* {r.name}: {r.note}" for r in results if r.note)
    return "\n".join(lines)


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                line.split(":", 1)[1].strip() for line in f if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs, {model}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="rounds per measure")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the targets")
    parser.add_argument("--wrap", default=DEFAULT_WRAP, help="'none': plain on both sides")
    parser.add_argument("--only", default="fixed,children,pool,monitor")
    parser.add_argument(
        "--json",
        type=Path,
        default=HERE / "results" / "latest.json",
        help="every sample, as JSON (default: bench/results/latest.json)",
    )
    args = parser.parse_args(argv)
    wrap = [] if args.wrap == "none" else shlex.split(args.wrap)
    bench = Bench(args.python, wrap, args.repeat)
    wanted = args.only.split(",")
    header = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine(),
        "python": f"{platform.python_version()} ({args.python})",
        "wrap": args.wrap,
        "repeat": args.repeat,
        "command": "python3 bench/run.py " + " ".join(argv),
    }
    results: list[Result] = []
    fixed_s = 0.0
    if "fixed" in wanted or "pool" in wanted:
        fixed = bench.fixed()
        fixed_s = fixed.value / 1000
        if "fixed" in wanted:
            results.append(fixed)
    for name in ("children", "pool", "monitor"):
        if name in wanted:
            results.append(bench.pool(fixed_s) if name == "pool" else getattr(bench, name)())
    print(render(results, header))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"header": header, "results": [asdict(r) for r in results]}, indent=2)
        )
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
