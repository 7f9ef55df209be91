"""worker-died on hand-built evidence: a worker lost while its pool waits, and only that."""

from __future__ import annotations

from diagnose_helpers import SCRIPT, evidence, exception, kill, main_proc, pool, proc

from mpdoctor.diagnose import diagnose
from mpdoctor.diagnose.rules import worker_died


def worker(pid: int, n: int = 1, **fields):
    fields.setdefault("name", f"ForkPoolWorker-{n}")
    fields.setdefault("started_as", "pool-worker")
    fields.setdefault("pool_id", "100:1")
    fields.setdefault("start_method", "fork")
    return proc(pid, t=0.2, **fields)


def test_a_killed_worker_of_an_open_pool() -> None:
    ev = evidence(main_proc(), worker(101, signal=9, ended_s=1.3), worker(102, 2), pools=[pool()])
    [f] = worker_died.check(ev)
    assert (f.id, f.severity, f.certainty) == ("worker-died", "error", "proven")
    assert f.title == "ForkPoolWorker-1 killed by SIGKILL"
    assert f.message == (
        f"ForkPoolWorker-1 (pid 101), a worker of the Pool created at {SCRIPT}:9, was killed by "
        "SIGKILL, possibly by the OOM killer. The pool was still open and replaced it; a task "
        "it held is never finished, and Pool.map() or AsyncResult.get() without a timeout "
        "would wait forever for it."
    )  # nobody was seen waiting: it may have held no task (a run that goes on)
    assert f.pids == [101]
    [loc] = f.locations
    assert (loc.role, loc.file, loc.line, loc.pid) == ("created", SCRIPT, 9, 100)
    assert "pool 100:1: Pool, 2 workers, fork, still open at the death" in f.evidence
    # One producer per finding: the same death is not also a process-crashed.
    assert [x.id for x in diagnose(ev)] == ["worker-died"]


def test_the_with_block_terminate_is_not_a_finding() -> None:
    # `with Pool() as p:` exits by terminate(): SIGTERM to every worker, recorded by the probe.
    ev = evidence(
        main_proc(),
        worker(101, signal=15, ended_s=2.5, kills=[kill(100, 101, 15, 2.49, "pool-terminate")]),
        worker(102, 2, signal=15, ended_s=2.5, kills=[kill(100, 102, 15, 2.49, "pool-terminate")]),
        pools=[pool(ended_s=2.48, ended_how="terminate")],
    )
    assert diagnose(ev) == []


def test_deaths_after_the_pool_ended_are_not_findings() -> None:
    ev = evidence(
        main_proc(),
        worker(101, signal=9, ended_s=2.6),
        pools=[pool(ended_s=2.5, ended_how="close")],
    )
    assert worker_died.check(ev) == []


def test_workers_retired_by_maxtasksperchild_exit_0() -> None:
    ev = evidence(main_proc(), worker(101, exit_code=0), worker(102, 2), pools=[pool()])
    assert worker_died.check(ev) == []


def test_an_executor_worker_breaks_the_executor() -> None:
    ppe = pool("100:2", kind="ProcessPoolExecutor", line=14)
    dead = worker(
        101,
        name="ForkProcess-1",
        started_as="executor-worker",
        pool_id="100:2",
        signal=11,
        ended_s=1.0,
    )
    # The broken executor then terminates the others: its own shutdown, not a finding.
    other = worker(
        102,
        name="ForkProcess-2",
        started_as="executor-worker",
        pool_id="100:2",
        signal=15,
        ended_s=1.1,
        kills=[kill(100, 102, 15, 1.05, "executor-shutdown")],
    )
    [f] = diagnose(evidence(main_proc(), dead, other, pools=[ppe]))
    assert f.id == "worker-died" and f.pids == [101]
    assert f.title == "ForkProcess-1 killed by SIGSEGV"
    assert "a worker of the ProcessPoolExecutor created at" in f.message
    assert f.message.endswith(
        "The executor was still open and is now broken: every pending future raises "
        "BrokenProcessPool."
    )
    # not the Pool's advice to switch to the executor it already is
    assert "BrokenProcessPool" in f.hint.fix and "Use concurrent.futures" not in f.hint.fix
    assert f.hint.docs.endswith("#concurrent.futures.process.BrokenProcessPool")


def test_a_pool_worker_gets_the_pool_advice() -> None:
    dead = worker(101, signal=9, ended_s=1.3)
    [f] = worker_died.check(evidence(main_proc(), dead, pools=[pool()]))
    assert "Use concurrent.futures.ProcessPoolExecutor" in f.hint.fix


def test_a_broken_executor_ended_because_of_the_death() -> None:
    # As recorded on 3.11 (samples/executor_worker_died.py): the worker kills itself, 1 ms later
    # the executor marks itself broken, 1 ms after that the parent reaps the worker and
    # SIGTERMs the survivor.
    ppe = pool("100:1", kind="ProcessPoolExecutor", ended_s=1.064, ended_how="broken")
    dead = worker(
        101,
        name="ForkProcess-1",
        started_as="executor-worker",
        signal=9,
        ended_s=1.065,
        kills=[kill(101, 101, 9, 1.063, "user", line=12)],
    )
    other = worker(
        102,
        name="ForkProcess-2",
        started_as="executor-worker",
        signal=15,
        ended_s=1.068,
        kills=[kill(100, 102, 15, 1.065, "executor-shutdown")],
    )
    [f] = diagnose(evidence(main_proc(), dead, other, pools=[ppe]))
    assert (f.id, f.pids, f.title) == ("worker-died", [101], "ForkProcess-1 killed by SIGKILL")
    assert f"was killed by SIGKILL it sent itself at {SCRIPT}:12." in f.message


def test_a_death_is_timed_by_its_kill_not_its_later_reap() -> None:
    # Killed at 1.0 s, reaped at 2.6 s after the pool was closed at 2.5 s: it died while open.
    victim = worker(101, signal=9, ended_s=2.6, kills=[kill(100, 101, 9, 1.0, "user")])
    ev = evidence(main_proc(), victim, pools=[pool(ended_s=2.5, ended_how="close")])
    assert [f.pids for f in worker_died.check(ev)] == [[101]]


def test_deaths_of_one_pool_with_one_cause_are_one_finding() -> None:
    ev = evidence(
        main_proc(),
        worker(101, 1, signal=9, ended_s=1.0),
        worker(102, 2, signal=9, ended_s=1.1),
        worker(103, 3, signal=9, ended_s=1.2),
        worker(104, 4, exit_code=3, ended_s=1.3),
        pools=[pool(size=4)],
        cgroup_oom_kills=3,
    )
    first, second = worker_died.check(ev)
    assert first.pids == [101, 102, 103]
    assert first.title == "3 Pool workers killed by SIGKILL"
    assert "was killed by the OOM killer (SIGKILL); 2 other workers died the same way." in (
        first.message
    )
    assert first.evidence[0] == (
        "workers: ForkPoolWorker-1 (pid 101), ForkPoolWorker-2 (pid 102), "
        "ForkPoolWorker-3 (pid 103)"
    )
    assert second.pids == [104] and second.title == "ForkPoolWorker-4 exited with code 3"


def test_initializer_failure_shows_the_exception() -> None:
    exc = exception("ConnectionError", "db down", (SCRIPT, 4, "init"))
    ev = evidence(main_proc(), worker(101, exit_code=1, exception=exc), pools=[pool()])
    [f] = worker_died.check(ev)
    assert f.title == "ForkPoolWorker-1 raised ConnectionError"
    assert "raised ConnectionError: db down and exited with code 1" in f.message
    assert exc.traceback.rstrip("\n") in f.evidence


def test_a_kill_by_the_program_names_the_sender() -> None:
    victim = worker(101, signal=9, kills=[kill(100, 101, 9, 1.0, "user", line=33)])
    [f] = worker_died.check(evidence(main_proc(), victim, pools=[pool()]))
    assert f"sent by the main process (pid 100) at {SCRIPT}:33" in f.message


def test_a_worker_whose_pool_nothing_recorded() -> None:
    # The parent ran without the probe: the worker is known by its name only.
    parent = main_proc(probed=False)
    killed = worker(101, signal=9, started_as=None, pool_id=None)
    [f] = worker_died.check(evidence(parent, killed))
    assert (f.severity, f.certainty) == ("warning", "suspected")
    assert "a worker of a Pool," in f.message
    # A SIGTERM there is most likely the pool's own terminate: not reported.
    termed = worker(102, 2, signal=15, started_as=None, pool_id=None)
    assert worker_died.check(evidence(parent, termed)) == []


def test_ctrl_c_and_mpdoctor_teardown_are_not_findings() -> None:
    ev = evidence(
        main_proc(),
        worker(101, 1, signal=2),
        worker(102, 2, exit_code=1, exception=exception("KeyboardInterrupt", "", (SCRIPT, 1, "f"))),
        worker(103, 3, signal=9, ended_by_mpdoctor=True),
        pools=[pool()],
    )
    assert worker_died.check(ev) == []
