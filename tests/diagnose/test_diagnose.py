"""diagnose(): every rule, ordered, deduplicated, and pure."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from diagnose_helpers import SCRIPT, evidence, exception, leak_warning, main_proc, pool, proc

from mpdoctor.diagnose import diagnose
from mpdoctor.diagnose.rules import ALL_RULES
from mpdoctor.model import Finding, Hint

OLD = "resource_tracker: There appear to be 1 leaked semaphore objects to clean up at shutdown"


def busy_run():
    return evidence(
        main_proc(exit_code=1),
        proc(
            101,
            t=0.2,
            name="ForkPoolWorker-1",
            started_as="pool-worker",
            pool_id="100:1",
            signal=9,
            ended_s=2.0,
        ),
        proc(
            102,
            t=0.3,
            name="Process-1",
            started_as="process",
            start_method="fork",
            exit_code=1,
            ended_s=0.9,
            exception=exception("ValueError", "bad", (SCRIPT, 3, "f")),
        ),
        proc(
            103,
            t=0.4,
            name="Process-2",
            started_as="process",
            state="sleeping",
            alive_after_main=True,
            ended_by_mpdoctor=True,
            ended_s=5.2,
        ),
        proc(104, t=0.1, name=None, started_as="resource-tracker", exit_code=1, ended_s=3.1),
        pools=[pool()],
        warnings=[leak_warning(104, OLD)],
    )


def test_most_severe_first_then_in_the_order_things_happened() -> None:
    found = [(f.severity, f.id, f.pids) for f in diagnose(busy_run())]
    assert found == [
        ("error", "process-crashed", [102]),  # ended at 0.9 s
        ("error", "worker-died", [101]),  # ended at 2.0 s
        ("warning", "leaked-resource", [104]),  # 3.1 s
        ("warning", "orphan-process", [103]),  # 5.2 s
    ]


def test_a_correct_run_has_no_findings() -> None:
    ev = evidence(
        main_proc(),
        proc(101, t=0.2, name="ForkPoolWorker-1", started_as="pool-worker", pool_id="100:1"),
        proc(102, t=0.3, name="Process-1", started_as="process", start_method="fork"),
        pools=[pool(ended_s=2.0, ended_how="close")],
    )
    assert diagnose(ev) == []


def test_same_id_and_pids_are_kept_once(monkeypatch) -> None:
    twice = Finding(
        id="x-y", severity="info", certainty="proven", title="t", message="m", pids=[2, 1]
    )
    again = Finding(
        id="x-y", severity="error", certainty="proven", title="u", message="n", pids=[1, 2]
    )

    class Rule:
        @staticmethod
        def check(ev):
            return [twice, again]

    monkeypatch.setattr("mpdoctor.diagnose.rules.ALL_RULES", (Rule,))
    assert diagnose(evidence(main_proc())) == [twice]


def test_every_rule_has_id_hint_and_docs() -> None:
    ids = [rule.RULE_ID for rule in ALL_RULES]
    assert sorted(ids) == sorted(
        [
            "process-crashed",
            "worker-died",
            "orphan-process",
            "zombie-process",
            "leaked-resource",
            "missing-main-guard",
            "initializer-failed",
            "unpicklable-callable",
            "unpicklable-object",
            "unpicklable-result",
            "unpicklable-exception",
            "interactive-main",
            "child-stdin",
            "daemon-children",
            "start-method-conflict",
            "manager-gone",
            "respawn-loop",
            "join-deadlock",
            "orphaned-wait",
            "pool-terminated",
            "fork-with-threads",
            "no-progress",
        ]
    )
    for rule in ALL_RULES:
        assert isinstance(rule.HINT, Hint) and rule.HINT.fix and rule.HINT.why
        assert rule.HINT.docs.startswith("https://docs.python.org/3/library/")
        assert callable(rule.check)


def test_diagnosis_is_pure(tmp_path: Path) -> None:
    """diagnose() runs under an audit hook that fails on any file, process, socket or clock
    access made after the imports (in a subprocess: audit hooks cannot be removed)."""
    code = textwrap.dedent(
        f"""
        import sys
        sys.path[:0] = [{str(Path(__file__).parent)!r}, {str(Path.cwd())!r}]
        import time
        import test_diagnose
        from mpdoctor.diagnose import diagnose
        import mpdoctor.diagnose.rules, mpdoctor.redact  # imports may read files; rules may not
        ev = test_diagnose.busy_run()
        FORBIDDEN = ("open", "os.", "subprocess.", "socket.", "shutil.", "time.sleep")
        def hook(event, args):
            if event.startswith(FORBIDDEN):
                raise RuntimeError("diagnose did I/O: " + event)
        sys.addaudithook(hook)
        real = time.time
        time.time = time.monotonic = time.perf_counter = lambda: (_ for _ in ()).throw(
            RuntimeError("diagnose read the clock"))
        findings = diagnose(ev)
        time.time = real
        print(len(findings))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=Path.cwd()
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "4"


def test_a_respawn_loop_of_20000_workers_is_diagnosed_and_built_in_linear_time() -> None:
    import time

    from mpdoctor.model import Environment, Outcome
    from mpdoctor.report_builder import build_report

    procs = [main_proc()]
    for i in range(20_000):
        procs.append(
            proc(
                1000 + i,
                t=0.0005 * i,
                name=f"ForkPoolWorker-{i}",
                started_as="pool-worker",
                pool_id="100:1",
                exit_code=1,
            )
        )
    ev = evidence(*procs, pools=[pool()])
    start = time.perf_counter()
    [finding] = diagnose(ev)
    build_report(ev, Outcome("exited"), Environment(None, None, "linux", None, None), [], [])
    # Linear: well under a second here; a quadratic lookup takes tens of seconds.
    assert time.perf_counter() - start < 5.0
    assert finding.title == "20000 Pool workers exited with code 1"
    assert finding.evidence[0].endswith("and 19995 more")
