"""Do no harm, refereed by CPython: its multiprocessing tests, plain vs under `mpdoctor run`.

    python3 tests/donoharm/referee.py --start-method fork [--python PATH] [--match GLOB ...]
        [--exclude GLOB ...] [--plain-runs 2] [--confirm 2] [--timeout 3600] [--work-dir DIR]
        [--wrap "python3 -m mpdoctor run --mp-log=off"]

Runs `cpython_mp.py` for one start method `--plain-runs` times under plain `python` and once
under `mpdoctor run --mp-log=off --python PYTHON cpython_mp.py ...` (the script form a user
types), then compares the status of every test id (pass, fail, error, skip, xfail, xpass; `hang`
for a test that started and never finished, `missing` for one that never started because the run
died). Tests whose plain runs disagree are flaky and excluded with that reason, as are the globs
in `known_flaky.txt`. Each remaining difference is re-run `--confirm` times on both sides with only
the differing ids; it counts as harm only if plain stays consistently on one status and mpdoctor
on another, otherwise it is reported as flaky. Exit status: 0 no harm, 1 harm (or the wrapped run
had no probe), 2 the plain runs themselves could not run.

`--wrap none` runs plain python on both sides: the harness testing itself.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "cpython_mp.py"
KNOWN_FLAKY = HERE / "known_flaky.txt"
DEFAULT_WRAP = f"{shlex.quote(sys.executable)} -m mpdoctor run --mp-log=off"
RESUMES = 3  # new processes for the rest of a run after hangs
GRACE_S = 3.0  # the resource tracker and forkserver exit on their own shortly after main


@dataclass
class SuiteRun:
    label: str
    statuses: dict[str, str]
    details: dict[str, str]
    header: dict
    end: dict | None
    returncode: int | None
    timed_out: bool
    duration_s: float
    leftovers: list[str]
    log: Path

    @property
    def stopped_by_budget(self) -> bool:
        return bool(self.end and self.end.get("stopped_by_budget"))


@dataclass
class Difference:
    test_id: str
    plain: str
    wrapped: str
    detail: str = ""
    flaky_reason: str | None = None  # set when confirmation showed it is not mpdoctor's doing


@dataclass
class Comparison:
    compared: int
    plain_counts: Counter
    known_flaky: dict[str, str] = field(default_factory=dict)  # glob -> reason, not run at all
    flaky: dict[str, str] = field(default_factory=dict)  # id -> reason
    differences: list[Difference] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # run-level harm (no probe, leftovers...)

    @property
    def harm(self) -> list[Difference]:
        return [d for d in self.differences if d.flaky_reason is None]

    @property
    def ok(self) -> bool:
        return not self.harm and not self.problems


def load_known_flaky(path: Path = KNOWN_FLAKY) -> dict[str, str]:
    """`glob  # reason` per line; blank lines and lines starting with # are ignored."""
    known: dict[str, str] = {}
    if not path.exists():
        return known
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        glob, _, reason = line.partition("#")
        known[glob.strip()] = reason.strip() or "listed in known_flaky.txt"
    return known


def driver_args(
    method: str, out: Path, match: list[str], exclude: list[str], budget: float, test_timeout: float
) -> list[str]:
    args = [
        str(DRIVER),
        "--start-method",
        method,
        "--out",
        str(out),
        "--test-timeout",
        str(test_timeout),
    ]
    for glob in match:
        args += ["--match", glob]
    for glob in exclude:
        args += ["--exclude", glob]
    if budget > 0:
        args += ["--budget", str(budget)]
    return args


def wrapped_argv(wrap: list[str], python: str, args: list[str]) -> list[str]:
    if not wrap:  # the harness against itself: plain on both sides
        return [python, *args]
    return [*wrap, f"--python={python}", *args]


def parse_results(path: Path) -> tuple[dict, dict[str, str], dict[str, str], dict | None]:
    header: dict = {}
    statuses: dict[str, str] = {}
    details: dict[str, str] = {}
    end = None
    if not path.exists():
        return header, statuses, details, end
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a torn last line of a killed run
        event = record.get("event")
        if event == "header":
            header = record
        elif event == "start":
            statuses[record["id"]] = "hang"  # until its result arrives
        elif event == "result":
            statuses[record["id"]] = record["status"]
            details[record["id"]] = record.get("detail", "")
        elif event == "end":
            end = record
    for test_id in header.get("planned", []):
        statuses.setdefault(test_id, "missing")
    return header, statuses, details, end


def session_members(sid: int) -> list[psutil.Process]:
    members = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getsid(proc.pid) == sid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc)
        except (OSError, psutil.Error):
            continue
    return members


def end_session(sid: int) -> list[str]:
    """Wait for the session's helpers to exit on their own, then kill what is left; name it."""
    deadline = time.monotonic() + GRACE_S
    members = session_members(sid)
    while members and time.monotonic() < deadline:
        time.sleep(0.1)
        members = session_members(sid)
    names = []
    for proc in members:
        try:
            names.append(f"{proc.pid} {' '.join(proc.cmdline())[:160]}")
            proc.kill()
        except psutil.Error:
            continue
    psutil.wait_procs(members, timeout=5)
    return names


def run_suite(label: str, argv: list[str], out: Path, log: Path, timeout: float) -> SuiteRun:
    out.unlink(missing_ok=True)
    started = time.monotonic()
    timed_out = False
    with open(log, "wb") as log_file:
        # A session of its own: everything the run starts can be found and ended afterwards.
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            returncode: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            returncode = proc.wait()
    duration = time.monotonic() - started
    leftovers = end_session(proc.pid)
    header, statuses, details, end = parse_results(out)
    return SuiteRun(
        label, statuses, details, header, end, returncode, timed_out, duration, leftovers, log
    )


def consistent(statuses: list[str]) -> str | None:
    return statuses[0] if len(set(statuses)) == 1 else None


def log_tail(run: SuiteRun, lines: int = 5) -> str:
    text = run.log.read_text(errors="replace") if run.log.exists() else ""
    return " / ".join(text.strip().splitlines()[-lines:])


def compare(
    plain_runs: list[SuiteRun], wrapped: SuiteRun, known_flaky: dict[str, str], require_probe: bool
) -> Comparison:
    if not wrapped.header:
        comparison = Comparison(compared=0, plain_counts=Counter())
        comparison.problems.append(
            f"the wrapped run produced no results (exit status {wrapped.returncode}): "
            + log_tail(wrapped)
        )
        return comparison
    budgeted = any(r.stopped_by_budget for r in [*plain_runs, wrapped])
    ids = set(plain_runs[0].statuses)
    for run in [*plain_runs[1:], wrapped]:
        ids = ids & set(run.statuses) if budgeted else ids | set(run.statuses)
    comparison = Comparison(compared=0, plain_counts=Counter(), known_flaky=dict(known_flaky))
    for test_id in sorted(ids):
        plain = [r.statuses.get(test_id, "missing") for r in plain_runs]
        if budgeted and "missing" in [*plain, wrapped.statuses.get(test_id, "missing")]:
            continue  # not reached before the budget ran out in some run
        listed = next(
            (reason for glob, reason in known_flaky.items() if fnmatch.fnmatchcase(test_id, glob)),
            None,
        )
        if listed is not None:
            comparison.flaky[test_id] = f"known flaky: {listed}"
            continue
        expected = consistent(plain)
        if expected is None:
            comparison.flaky[test_id] = "plain runs disagree: " + ", ".join(plain)
            continue
        comparison.compared += 1
        comparison.plain_counts[expected] += 1
        got = wrapped.statuses.get(test_id, "missing")
        if got != expected:
            detail = wrapped.details.get(test_id) or plain_runs[0].details.get(test_id, "")
            comparison.differences.append(Difference(test_id, expected, got, detail))
    if require_probe and not (wrapped.header.get("probe") and wrapped.header.get("session")):
        comparison.problems.append(
            "the wrapped run had no mpdoctor probe in its main process "
            f"(probe={wrapped.header.get('probe')}, session={wrapped.header.get('session')}): "
            "nothing was refereed"
        )
    if wrapped.timed_out:
        comparison.problems.append(f"the wrapped run timed out after {wrapped.duration_s:.0f} s")
    if wrapped.leftovers and not any(r.leftovers for r in plain_runs):
        comparison.problems.append(
            "the wrapped run left processes: " + "; ".join(wrapped.leftovers)
        )
    return comparison


@dataclass
class Referee:
    """One comparison: where the runs go and how they are made."""

    method: str
    python: str
    wrap: list[str]
    work_dir: Path
    match: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    plain_runs: int = 2
    confirm_runs: int = 2
    budget: float = 0
    timeout: float = 3600
    test_timeout: float = 120
    known_flaky: dict[str, str] = field(default_factory=load_known_flaky)
    runs: list[SuiteRun] = field(default_factory=list)

    def _run_once(self, label: str, wrapped: bool, match: list[str], budget: float) -> SuiteRun:
        out = self.work_dir / f"{label}.jsonl"
        exclude = [*self.exclude, *self.known_flaky]  # known-flaky tests are not even run
        args = driver_args(self.method, out, match, exclude, budget, self.test_timeout)
        argv = wrapped_argv(self.wrap, self.python, args) if wrapped else [self.python, *args]
        run = run_suite(label, argv, out, self.work_dir / f"{label}.log", self.timeout)
        self.runs.append(run)
        return run

    def _run(self, label: str, wrapped: bool, match: list[str], budget: float) -> SuiteRun:
        """One run of the suite; after a hang, the tests it never reached run in a new process,
        so one stuck test costs its timeout, not the rest of the suite."""
        run = self._run_once(label, wrapped, match, budget)
        for attempt in range(1, RESUMES + 1):
            missing = [t for t, status in run.statuses.items() if status == "missing"]
            if not missing or not run.header or run.stopped_by_budget:
                break
            more = self._run_once(f"{label}-resume{attempt}", wrapped, missing, 0)
            if not more.header:
                break
            for test_id in missing:
                run.statuses[test_id] = more.statuses.get(test_id, "missing")
                run.details[test_id] = more.details.get(test_id, "")
            run.duration_s += more.duration_s
            run.timed_out = run.timed_out or more.timed_out
            run.leftovers += more.leftovers
            run.end = more.end
        return run

    def referee(self) -> Comparison:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        plain = [
            self._run(f"plain{i + 1}", False, self.match, self.budget)
            for i in range(self.plain_runs)
        ]
        if not plain[0].header:
            raise RuntimeError(f"the plain run produced no results; see {plain[0].log}")
        wrapped = self._run("mpdoctor", True, self.match, self.budget)
        comparison = compare(plain, wrapped, self.known_flaky, require_probe=bool(self.wrap))
        if comparison.differences and self.confirm_runs > 0:
            self.confirm(comparison.differences)
        return comparison

    def confirm(self, differences: list[Difference]) -> None:
        """Re-run only the differing ids on both sides: harm must be reproducible."""
        ids = [d.test_id for d in differences]
        plain: dict[str, list[str]] = {i: [] for i in ids}
        wrapped: dict[str, list[str]] = {i: [] for i in ids}
        for n in range(self.confirm_runs):
            for side, wrap, into in (("plain", False, plain), ("mpdoctor", True, wrapped)):
                run = self._run(f"confirm{n + 1}-{side}", wrap, ids, 0)
                for test_id in ids:
                    into[test_id].append(run.statuses.get(test_id, "missing"))
        for diff in differences:
            p = [diff.plain, *plain[diff.test_id]]
            w = [diff.wrapped, *wrapped[diff.test_id]]
            if consistent(p) is None or consistent(w) is None or set(p) & set(w):
                diff.flaky_reason = (
                    f"not reproducible: plain {', '.join(p)}; mpdoctor {', '.join(w)}"
                )


def render(ref: Referee, comparison: Comparison) -> str:
    lines = [
        f"do-no-harm: CPython multiprocessing tests, start method {ref.method}, python {ref.python}"
    ]
    for run in ref.runs:
        counts = Counter(run.statuses.values())
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        probe = " probe" if run.header.get("probe") else ""
        lines.append(
            f"  {run.label:<18} {run.duration_s:7.1f} s  rc={run.returncode}"
            f"{' TIMEOUT' if run.timed_out else ''}{probe}  {summary}"
        )
        lines.extend(f"    left running: {name}" for name in run.leftovers)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(comparison.plain_counts.items()))
    lines.append(
        f"compared {comparison.compared} tests ({counts}); "
        f"{len(comparison.flaky)} excluded as flaky"
    )
    lines.extend(f"  excluded {tid}: {reason}" for tid, reason in sorted(comparison.flaky.items()))
    lines.extend(
        f"  not run, known flaky: {glob}: {reason}"
        for glob, reason in sorted(comparison.known_flaky.items())
    )
    for diff in comparison.differences:
        verdict = f"flaky ({diff.flaky_reason})" if diff.flaky_reason else "HARM"
        lines.append(
            f"  {verdict}: {diff.test_id}: plain {diff.plain}, mpdoctor {diff.wrapped}"
            f"{'  | ' + diff.detail if diff.detail else ''}"
        )
    lines.extend(f"  PROBLEM: {problem}" for problem in comparison.problems)
    lines.append(
        "result: "
        + (
            "no harm"
            if comparison.ok
            else f"{len(comparison.harm)} differences, {len(comparison.problems)} problems"
        )
    )
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start-method", required=True, choices=["fork", "spawn", "forkserver"])
    parser.add_argument("--python", default=sys.executable, help="interpreter of the tests")
    parser.add_argument("--match", action="append", default=[])
    parser.add_argument("--exclude", action="append", default=[])
    parser.add_argument("--plain-runs", type=int, default=2)
    parser.add_argument("--confirm", type=int, default=2, help="re-runs of each difference")
    parser.add_argument("--budget", type=float, default=0, help="per run, seconds (0: none)")
    parser.add_argument("--timeout", type=float, default=3600, help="per run, seconds")
    parser.add_argument("--test-timeout", type=float, default=120, help="per test, seconds")
    parser.add_argument("--work-dir", type=Path, help="keep logs and results here")
    parser.add_argument(
        "--wrap",
        default=DEFAULT_WRAP,
        help="command that runs a script under mpdoctor; 'none' for plain",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix=f"donoharm-{args.start_method}-"))
    ref = Referee(
        method=args.start_method,
        python=args.python,
        wrap=[] if args.wrap == "none" else shlex.split(args.wrap),
        work_dir=work_dir,
        match=args.match,
        exclude=args.exclude,
        plain_runs=args.plain_runs,
        confirm_runs=args.confirm,
        budget=args.budget,
        timeout=args.timeout,
        test_timeout=args.test_timeout,
    )
    try:
        comparison = ref.referee()
    except RuntimeError as exc:
        print(f"referee: {exc}", file=sys.stderr)
        return 2
    print(render(ref, comparison))
    print(f"logs: {work_dir}")
    return 0 if comparison.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
