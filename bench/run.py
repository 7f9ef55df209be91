"""mpdoctor's overhead, each figure measured against plain python in the same run.

    python3 bench/run.py [--repeat N] [--python PATH] [--wrap "CMD"] [--only NAMES] [--json FILE]

Four measurements (targets from issue 2), every run of the wrapped side alternating with a run
of the plain side so drift in machine load hits both alike; medians are reported:

* fixed:    `mpdoctor run` of an empty script, minus plain python        (target <= 150 ms)
* children: 100 spawned Processes one after another, `--mp-log off`; the
            cost per child is ((wrapped - plain) at 100 - (wrapped - plain)
            at 0 children) / 100, computed within each round (the four
            runs of a round are adjacent), median over rounds             (target <= 1 ms)
* pool:     a CPU-bound Pool.map of a few seconds (16 tasks on Pool(2)); the
            cost beyond the same program's with empty tasks (which holds
            every fixed cost: start, pool, workers, report), as a share of
            the plain time, within each round, median over rounds        (target <= 2 %)
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
MEASURES = ("fixed", "children", "pool", "monitor")
POOL_LOOPS = 8_000_000  # per task: about 2.6 s for 16 tasks on 2 workers here
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

    def paired(
        self, script: str, small: list[str], big: list[str]
    ) -> tuple[list[float], list[float], Result]:
        """Per round, four adjacent runs (plain and wrapped, with `small` and `big` arguments),
        so each round's estimate sees one machine load. Returns, per round, the wrapped side's
        extra wall and CPU time at `big` beyond its extra at `small`; and the raw samples."""
        runs = [
            (self.plain_argv, small),
            (self.wrapped_argv, small),
            (self.plain_argv, big),
            (self.wrapped_argv, big),
        ]
        for make, args in runs:
            self.run(make(script, *args))  # warm-up
        wall: list[float] = []
        cpu: list[float] = []
        r = Result(script)
        for i in range(self.repeat):
            got: list[Sample | None] = [None] * len(runs)
            order = list(enumerate(runs))
            for k, (make, args) in order if i % 2 == 0 else order[::-1]:
                argv = make(script, *args)
                sample = self.run(argv)
                if sample.returncode != 0:
                    raise SystemExit(f"bench: {' '.join(argv)} exited {sample.returncode}")
                got[k] = sample
            p0, w0, pn, wn = got  # type: ignore[misc]
            wall.append((wn.wall_s - pn.wall_s) - (w0.wall_s - p0.wall_s))
            cpu.append((wn.tree_cpu_s - pn.tree_cpu_s) - (w0.tree_cpu_s - p0.tree_cpu_s))
            r.plain.append(pn.wall_s)
            r.wrapped.append(wn.wall_s)
            r.plain_cpu.append(pn.tree_cpu_s)
            r.wrapped_cpu.append(wn.tree_cpu_s)
        return wall, cpu, r

    def children(self) -> Result:
        wall, cpu, r = self.paired("spawn_children.py", ["0"], [str(CHILDREN)])
        r.name = "children"
        per_child = [w / CHILDREN * 1000 for w in wall]
        r.value = median(per_child)
        r.unit, r.target, r.ok = "ms per child", "<= 1 ms", r.value <= 1.0
        r.note = (
            f"{CHILDREN} spawn children; per-round estimates {_quartiles(per_child)} ms; "
            f"CPU of the whole tree per child {median(cpu) / CHILDREN * 1000:.2f} ms"
        )
        return r

    def pool(self) -> Result:
        wall, cpu, r = self.paired("pool_cpu.py", ["16", "0"], ["16", str(POOL_LOOPS)])
        r.name = "pool"
        share = [w / p * 100 for w, p in zip(wall, r.plain, strict=True)]
        r.value = median(share)
        r.unit, r.target, r.ok = "% beyond fixed", "<= 2 %", r.value <= 2.0
        cpu_share = [c / p * 100 for c, p in zip(cpu, r.plain_cpu, strict=True)]
        r.note = (
            f"16 tasks on Pool(2); the fixed cost is the same program's with empty tasks; "
            f"per-round estimates {_quartiles(share)} %; CPU of the whole tree beyond its "
            f"fixed cost {median(cpu_share):+.2f} %"
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


def _quartiles(values: list[float]) -> str:
    ordered = sorted(values)
    n = len(ordered)
    return f"{ordered[n // 4]:.2f}-{ordered[(3 * n) // 4]:.2f}"


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
    results = [getattr(bench, name)() for name in MEASURES if name in wanted]
    print(render(results, header))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"header": header, "results": [asdict(r) for r in results]}, indent=2)
        )
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
