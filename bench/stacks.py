"""Stacks of every process of a tree: mpdoctor's stack signal against py-spy, in the same run.

    python3 bench/stacks.py [--repeat N] [--sizes 8,32,128] [--method fork|spawn]
                            [--python PATH] [--py-spy PATH] [--json FILE]

For each size, one tree of that many Python processes (the root included:
`bench/targets/sleeping_tree.py N`, every process blocked) runs under the probe's environment
with a fresh session; once all of them have registered, each round measures, one after the
other (the order flips each round, after one warm-up of each), medians reported:

* mpdoctor: the wall time from reading the session's events to find the targets to the parsed
            stacks of every process (`targets_from(read_events(...))` + `take_stacks`); fails
            unless every process of the tree gave a stack.
* py-spy:   the wall time of `py-spy dump --pid ROOT --subprocesses`; fails unless it exits 0
            and shows every process of the tree.

Target (issue): mpdoctor at least 20 times faster than py-spy at every size. py-spy is
optional (`python3 -m pip install py-spy`; it needs ptrace permission): without it, mpdoctor is
measured alone and nothing is compared. Exit status 1 when a ratio misses the target or py-spy
failed, 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import selectors
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from measure import _kill_session, median  # noqa: E402
from run import machine  # noqa: E402

from mpdoctor.collect.events import read_events  # noqa: E402
from mpdoctor.collect.session import Session, create_session, target_env  # noqa: E402
from mpdoctor.collect.stacks import BUDGET_S, take_stacks, targets_from  # noqa: E402

TREE = HERE / "targets" / "sleeping_tree.py"
SIZES = (8, 32, 128)
TARGET_RATIO = 20.0
PY_SPY_TIMEOUT_S = 120.0
PAUSE_S = 0.1  # between two measurements: the tree is back asleep
INSTALL_HINT = "python3 -m pip install py-spy"
_PROCESS_HEADER = re.compile(r"^Process (\d+):", re.MULTILINE)


class BenchError(RuntimeError):
    pass


@dataclass
class SizeResult:
    processes: int
    method: str
    ready_s: float = 0.0  # from starting the root to every process registered
    mpdoctor: list[float] = field(default_factory=list)  # wall: events read to stacks parsed
    mpdoctor_targets: list[float] = field(default_factory=list)  # of which: events -> targets
    mpdoctor_take: list[float] = field(default_factory=list)  # StackResult.elapsed_s
    threads: int = 0  # threads in the last mpdoctor round's stacks
    py_spy: list[float] = field(default_factory=list)
    py_spy_error: str = ""
    ratio: float | None = None  # median(py-spy) / median(mpdoctor)
    ok: bool | None = None  # None: not compared
    notes: list[str] = field(default_factory=list)


class Tree:
    """A sleeping tree under the probe, with its own session; ended and removed on exit, whatever
    happens (the root leads a process session of its own: everything in it is killed)."""

    def __init__(self, python: str, size: int, method: str) -> None:
        self.python, self.size, self.method = python, size, method
        self.session: Session | None = None
        self.root: subprocess.Popen | None = None
        self.stderr = tempfile.TemporaryFile()
        self.ready_s = 0.0

    def __enter__(self) -> Tree:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        self.session = create_session()
        t0 = time.perf_counter()
        self.root = subprocess.Popen(
            [self.python, str(TREE), str(self.size), self.method],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=target_env(self.session, mp_log="off"),
            start_new_session=True,
        )
        deadline = time.monotonic() + 30 + self.size * (0.5 if self.method == "spawn" else 0.05)
        self._await_ready(deadline)
        while True:
            targets, refused = targets_from(
                read_events(self.session.events_dir), self.session.stacks_dir
            )
            if refused:
                raise BenchError(f"processes that refuse stacks: {refused}")
            if len(targets) == self.size:
                break
            if len(targets) > self.size:
                raise BenchError(f"{len(targets)} processes registered, expected {self.size}")
            if self.root.poll() is not None or time.monotonic() > deadline:
                code = self.root.poll()
                raise BenchError(
                    f"{len(targets)} of {self.size} processes registered "
                    f"(root {'alive' if code is None else f'exited {code}'})" + self._stderr_tail()
                )
            time.sleep(0.02)
        self.ready_s = time.perf_counter() - t0

    def _await_ready(self, deadline: float) -> None:
        assert self.root is not None and self.root.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.root.stdout, selectors.EVENT_READ)
            while not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                if time.monotonic() >= deadline:
                    raise BenchError("the tree did not print 'ready' in time" + self._stderr_tail())
        line = self.root.stdout.readline()
        if line.strip() != b"ready":
            raise BenchError(f"the tree printed {line!r}, not 'ready'" + self._stderr_tail())

    def _stderr_tail(self) -> str:
        self.stderr.seek(0)
        text = self.stderr.read().decode(errors="replace").strip()
        return f"; its stderr:\n{text[-2000:]}" if text else ""

    def close(self) -> None:
        if self.root is not None:
            sid = self.root.pid
            try:
                os.killpg(sid, signal.SIGKILL)
            except OSError:
                pass
            _kill_session(sid)
            for stream in (self.root.stdin, self.root.stdout):
                if stream is not None:
                    stream.close()
            self.root.wait()
            _await_session_gone(sid)
            self.root = None
        if self.session is not None:
            self.session.cleanup()
            self.session = None
        self.stderr.close()

    def mpdoctor(self, into: SizeResult) -> None:
        """One measurement: events read, targets found, every process signalled, dumps parsed."""
        assert self.session is not None
        t0 = time.perf_counter()
        targets, refused = targets_from(
            read_events(self.session.events_dir), self.session.stacks_dir
        )
        t1 = time.perf_counter()
        result = take_stacks(targets, self.session.stacks_dir)
        t2 = time.perf_counter()
        pids = {t.pid for t in targets}
        empty = sorted(
            p for p, threads in result.stacks.items() if not any(t.frames for t in threads)
        )
        missing = sorted(pids - set(result.stacks))
        if len(targets) != self.size or refused or result.skipped or missing or empty:
            raise BenchError(
                f"mpdoctor: stacks of {len(result.stacks)} of {self.size} processes "
                f"({len(targets)} targets; refused {refused}; skipped {result.skipped}; "
                f"missing {missing}; without frames {empty}; {result.elapsed_s * 1000:.0f} ms)"
            )
        if result.elapsed_s >= BUDGET_S:
            into.notes.append(
                f"a dump round took the whole {BUDGET_S * 1000:.0f} ms budget "
                f"({result.elapsed_s * 1000:.0f} ms)"
            )
        into.mpdoctor.append(t2 - t0)
        into.mpdoctor_targets.append(t1 - t0)
        into.mpdoctor_take.append(result.elapsed_s)
        into.threads = sum(len(threads) for threads in result.stacks.values())

    def pids(self) -> set[int]:
        assert self.session is not None
        targets, _ = targets_from(read_events(self.session.events_dir), self.session.stacks_dir)
        return {t.pid for t in targets}

    def py_spy(self, binary: str, into: SizeResult, expected: set[int]) -> bool:
        """One `py-spy dump --subprocesses` of the tree; False (error recorded) when it failed."""
        assert self.root is not None
        argv = [binary, "dump", "--pid", str(self.root.pid), "--subprocesses"]
        t0 = time.perf_counter()
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=PY_SPY_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            into.py_spy_error = f"{' '.join(argv)} timed out after {PY_SPY_TIMEOUT_S:.0f} s"
            return False
        except OSError as exc:
            into.py_spy_error = f"{' '.join(argv)}: {exc}"
            return False
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            into.py_spy_error = (
                f"{' '.join(argv)} exited {done.returncode}:\n"
                f"{(done.stderr or done.stdout).strip()[-2000:] or '(no output)'}"
            )
            return False
        shown = {int(pid) for pid in _PROCESS_HEADER.findall(done.stdout)}
        if shown != expected:
            into.py_spy_error = (
                f"{' '.join(argv)} showed {len(shown)} processes, not the {len(expected)} of the "
                f"tree (missing {sorted(expected - shown)}, extra {sorted(shown - expected)})"
                + (f"; its stderr:\n{done.stderr.strip()[-2000:]}" if done.stderr.strip() else "")
            )
            return False
        into.py_spy.append(wall)
        return True


def _await_session_gone(sid: int, timeout: float = 10.0) -> None:
    """Killed processes of the tree disappear once reaped (by init: they were reparented)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = []
        for proc in psutil.process_iter():
            try:
                if os.getsid(proc.pid) == sid and proc.status() != psutil.STATUS_ZOMBIE:
                    left.append(proc.pid)
            except (OSError, psutil.Error):
                continue
        if not left:
            return
        _kill_session(sid)
        time.sleep(0.05)
    print(f"bench: processes of session {sid} still alive: {left}", file=sys.stderr)


def find_py_spy(explicit: str | None) -> str | None:
    """The py-spy binary: the one named, else the one pip put next to this interpreter (not a
    pyenv shim, whose shell script would add its own start-up to every dump), else PATH's."""
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    beside = Path(sysconfig.get_path("scripts")) / "py-spy"
    if os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("py-spy")


def measure(
    python: str, size: int, method: str, repeat: int, py_spy: str | None
) -> tuple[SizeResult, bool]:
    """Returns the result and whether py-spy is still worth running."""
    r = SizeResult(size, method)
    with Tree(python, size, method) as tree:
        r.ready_s = tree.ready_s
        expected = tree.pids()
        scratch = SizeResult(size, method)  # warm-ups: checked, not counted
        tree.mpdoctor(scratch)
        if py_spy and not tree.py_spy(py_spy, scratch, expected):
            r.py_spy_error, py_spy = scratch.py_spy_error, None
        for i in range(repeat):
            steps = ["mpdoctor", "py-spy"] if i % 2 == 0 else ["py-spy", "mpdoctor"]
            for step in steps:
                time.sleep(PAUSE_S)
                if step == "mpdoctor":
                    tree.mpdoctor(r)
                elif py_spy and not tree.py_spy(py_spy, r, expected):
                    py_spy = None
    if r.py_spy:
        r.ratio = median(r.py_spy) / median(r.mpdoctor)
        r.ok = r.ratio >= TARGET_RATIO and not r.py_spy_error
    return r, py_spy is not None


def _range_ms(values: list[float]) -> str:
    return f"{min(values) * 1000:.1f}-{max(values) * 1000:.1f} ms"


def render(results: list[SizeResult], header: dict) -> str:
    lines = [
        f"date: {header['date']}  machine: {header['machine']}",
        f"python: {header['python']}  py-spy: {header['py_spy']}  method: {header['method']}  "
        f"repeat: {header['repeat']}",
        "",
        "| processes | mpdoctor (median) | py-spy (median) | py-spy / mpdoctor | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        spy = f"{median(r.py_spy) * 1000:.1f} ms" if r.py_spy else "-"
        ratio = f"{r.ratio:.1f}x" if r.ratio is not None else "-"
        met = "-" if r.ok is None else ("yes" if r.ok else "NO")
        lines.append(
            f"| {r.processes} | {median(r.mpdoctor) * 1000:.1f} ms | {spy} | {ratio} "
            f"| >= {TARGET_RATIO:.0f}x | {met} |"
        )
    lines.append("")
    for r in results:
        note = (
            f"* {r.processes}: tree registered in {r.ready_s:.2f} s; "
            f"mpdoctor {_range_ms(r.mpdoctor)} (medians: events -> targets "
            f"{median(r.mpdoctor_targets) * 1000:.1f} ms, take_stacks "
            f"{median(r.mpdoctor_take) * 1000:.1f} ms; {r.threads} threads)"
        )
        if r.py_spy:
            note += f"; py-spy {_range_ms(r.py_spy)}"
        lines.append(note)
        lines.extend(f"  - {n}" for n in dict.fromkeys(r.notes))
        if r.py_spy_error:
            lines.append("  - py-spy failed: " + r.py_spy_error.replace("\n", "\n    "))
    return "\n".join(lines)


def _interrupt(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # runs the finally blocks: the tree is ended, session removed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds per size")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="processes per tree")
    parser.add_argument("--method", choices=("fork", "spawn"), default="fork")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the tree")
    parser.add_argument("--py-spy", dest="py_spy", help="the py-spy binary (default: found)")
    parser.add_argument(
        "--json",
        default=str(HERE / "results" / "stacks.json"),
        help="every sample, as JSON (default: bench/results/stacks.json; '' for none)",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if min(sizes) < (3 if args.method == "spawn" else 1):
        parser.error("a spawn tree has at least 3 processes (root, resource tracker, a child)")
    signal.signal(signal.SIGTERM, _interrupt)
    py_spy = find_py_spy(args.py_spy)
    if py_spy is None:
        print(
            f"bench: py-spy not found{' at ' + args.py_spy if args.py_spy else ''}; "
            f"measuring mpdoctor alone. Install it with `{INSTALL_HINT}` (it needs ptrace "
            "permission: root, or kernel.yama.ptrace_scope=0).",
            file=sys.stderr,
        )
    version = "-"
    if py_spy:
        done = subprocess.run([py_spy, "--version"], capture_output=True, text=True, check=False)
        first = (done.stdout.strip().splitlines() or ["version unknown"])[0]
        version = f"{first} ({py_spy})"
    header = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "python": f"{platform.python_version()} ({args.python})",
        "py_spy": version,
        "method": args.method,
        "repeat": args.repeat,
        "budget_ms": BUDGET_S * 1000,
        "command": "python3 bench/stacks.py " + " ".join(argv),
    }
    results: list[SizeResult] = []
    failed = ""
    try:
        for size in sizes:
            r, usable = measure(args.python, size, args.method, args.repeat, py_spy)
            results.append(r)
            if r.py_spy_error:
                print(
                    f"bench: py-spy failed ({size} processes):\n{r.py_spy_error}", file=sys.stderr
                )
            if py_spy and not usable:
                print("bench: py-spy is not run again; measuring mpdoctor alone", file=sys.stderr)
                py_spy = None
    except BenchError as exc:
        failed = str(exc)
    if results:
        print(render(results, header))
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(
                {"header": header, "results": [asdict(r) for r in results], "error": failed},
                indent=2,
            )
        )
    if failed:
        print(f"bench: {failed}", file=sys.stderr)
        return 1
    return 0 if all(r.ok is not False and not r.py_spy_error for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
