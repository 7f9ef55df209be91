"""process-crashed on hand-built evidence: what is a crash, and what is somebody's clean-up."""

from __future__ import annotations

from diagnose_helpers import (
    SCRIPT,
    TRACKER_CMDLINE,
    evidence,
    exception,
    kill,
    main_proc,
    pool,
    proc,
    site,
)

from mpdoctor.diagnose import diagnose
from mpdoctor.diagnose.rules import process_crashed

STDLIB = "/usr/lib/python3.11/multiprocessing/process.py"


def child(pid: int = 101, **fields):
    fields.setdefault("name", "Process-1")
    fields.setdefault("started_as", "process")
    fields.setdefault("start_method", "fork")
    fields.setdefault("start_site", site(21, "main"))
    return proc(pid, t=0.5, **fields)


def only(ev):
    findings = process_crashed.check(ev)
    assert len(findings) == 1, findings
    return findings[0]


def test_unhandled_exception_names_type_message_and_the_users_raising_line() -> None:
    exc = exception(
        "ZeroDivisionError",
        "division by zero",
        (STDLIB, 314, "_bootstrap"),
        (STDLIB, 108, "run"),
        (SCRIPT, 5, "work"),
        ("/usr/lib/python3.11/fractions.py", 99, "__new__"),  # raised inside the stdlib
    )
    ev = evidence(main_proc(), child(exit_code=1, exception=exc, target="work"))
    f = only(ev)
    assert (f.id, f.severity, f.certainty) == ("process-crashed", "error", "proven")
    assert f.title == "Process-1 raised ZeroDivisionError"
    assert f.message == (
        f"Process-1 (pid 101) raised ZeroDivisionError: division by zero at {SCRIPT}:5 and "
        "exited with code 1 (target work)."
    )
    assert f.pids == [101]
    assert [(loc.role, loc.file, loc.line, loc.pid) for loc in f.locations] == [
        ("raised", SCRIPT, 5, 101),
        ("started", SCRIPT, 21, 100),
    ]
    assert exc.traceback.rstrip("\n") in f.evidence
    assert f.hint is process_crashed.HINT


def test_an_exception_means_exit_code_1_even_when_nobody_saw_the_code() -> None:
    exc = exception("KeyError", "'x'", (SCRIPT, 7, "work"))
    ev = evidence(main_proc(), child(exit_code=None, state="exited", ended_s=0.9, exception=exc))
    assert "exited with code 1" in only(ev).message


def test_non_zero_exit_code() -> None:
    f = only(evidence(main_proc(), child(exit_code=3)))
    assert f.title == "Process-1 exited with code 3"
    assert f.message == "Process-1 (pid 101) exited with code 3."
    assert "exit status: exit code 3 at 1.50 s, seen by parent-probe" in f.evidence


def test_signal_is_named() -> None:
    f = only(evidence(main_proc(), child(signal=11)))
    assert f.title == "Process-1 killed by SIGSEGV"
    assert f.message == "Process-1 (pid 101) was killed by SIGSEGV."


def test_negative_exitcode_is_multiprocessings_spelling_of_a_signal() -> None:
    f = only(evidence(main_proc(), child(exit_code=-6)))
    assert f.title == "Process-1 killed by SIGABRT"


def test_sigkill_with_an_oom_kill_counted_is_the_oom_killer() -> None:
    ev = evidence(main_proc(), child(signal=9, peak_rss_bytes=3 << 30), cgroup_oom_kills=1)
    f = only(ev)
    assert f.message == "Process-1 (pid 101) was killed by the OOM killer (SIGKILL)."
    assert f.certainty == "proven"
    assert "cgroup memory.events: 1 OOM kill during the run" in f.evidence
    assert "peak memory (VmHWM): 3.0 GiB" in f.evidence


def test_sigkill_with_oom_kills_uncounted_is_only_possibly_the_oom_killer() -> None:
    f = only(evidence(main_proc(), child(signal=9), cgroup_oom_kills=None))
    assert f.message == "Process-1 (pid 101) was killed by SIGKILL, possibly by the OOM killer."
    assert f.title == "Process-1 killed by SIGKILL"
    assert "cgroup memory.events: unreadable, OOM kills not counted" in f.evidence


def test_sigkill_with_no_oom_kill_counted_is_not_the_oom_killer() -> None:
    """The cgroup's counter counts every OOM kill of its processes: zero rules it out."""
    f = only(evidence(main_proc(), child(signal=9), cgroup_oom_kills=0))
    assert f.message == (
        "Process-1 (pid 101) was killed by SIGKILL, not by the OOM killer (the cgroup counted "
        "none)."
    )
    assert f.title == "Process-1 killed by SIGKILL"
    assert "cgroup memory.events: 0 OOM kills during the run" in f.evidence


def test_fewer_oom_kills_than_sigkills_proves_none_of_them() -> None:
    ev = evidence(
        main_proc(),
        child(101, signal=9),
        child(102, name="Process-2", signal=9),
        cgroup_oom_kills=1,
    )
    messages = [f.message for f in process_crashed.check(ev)]
    assert all("possibly by the OOM killer" in m for m in messages) and len(messages) == 2


def test_a_recorded_kill_names_its_sender_and_line() -> None:
    victim = child(signal=9, kills=[kill(100, 101, 9, 1.2, "user", line=30)])
    f = only(evidence(main_proc(), victim, cgroup_oom_kills=1))
    assert f.message == (
        f"Process-1 (pid 101) was killed by SIGKILL sent by the main process (pid 100) at "
        f"{SCRIPT}:30."
    )
    assert "kill: pid 100 sent SIGKILL at 1.20 s (via user)" in f.evidence


def test_a_sibling_sender_and_a_self_kill() -> None:
    sibling = child(102, name="Process-2", state="sleeping")
    victim = child(signal=15, kills=[kill(102, 101, 15, 1.2, "user", line=50)])
    f = only(evidence(main_proc(), sibling, victim))
    assert (
        f.message
        == f"Process-1 (pid 101) was killed by SIGTERM sent by Process-2 (pid 102) at {SCRIPT}:50."
    )
    suicide = child(signal=6, kills=[kill(101, 101, 6, 1.2, "user", line=8)])
    f = only(evidence(main_proc(), suicide))
    assert f.message == f"Process-1 (pid 101) was killed by SIGABRT it sent itself at {SCRIPT}:8."
    assert f.title == "Process-1 killed by SIGABRT"


def test_main_process_exit_is_the_outcome_not_a_finding() -> None:
    assert process_crashed.check(evidence(main_proc(exit_code=1), child(exit_code=0))) == []
    assert process_crashed.check(evidence(main_proc(signal=9))) == []


def test_clean_exits_and_running_processes_are_not_findings() -> None:
    ev = evidence(main_proc(), child(101, exit_code=0), child(102, state="sleeping"))
    assert process_crashed.check(ev) == []


def test_deliberate_ends_are_not_findings() -> None:
    ev = evidence(
        main_proc(),
        # Process.terminate() by the program (also multiprocessing's atexit for daemons).
        child(101, signal=15, kills=[kill(100, 101, 15, 1.0, "process-terminate", 40)]),
        # Process.kill() by the program.
        child(102, signal=9, kills=[kill(100, 102, 9, 1.0, "process-terminate", 41)]),
        # mpdoctor's tear-down of a hung tree.
        child(103, signal=9, ended_by_mpdoctor=True),
        # Ctrl-C: SIGINT to the group, KeyboardInterrupt in every child.
        child(104, signal=2),
        child(105, exit_code=1, exception=exception("KeyboardInterrupt", "", (SCRIPT, 3, "w"))),
    )
    assert process_crashed.check(ev) == []


def test_pool_workers_are_worker_died_only() -> None:
    worker = proc(
        101, t=0.2, name="ForkPoolWorker-1", started_as="pool-worker", pool_id="100:1", signal=9
    )
    ev = evidence(main_proc(), worker, pools=[pool()])
    assert process_crashed.check(ev) == []
    assert [f.id for f in diagnose(ev)] == ["worker-died"]


def test_resource_tracker_exit_code_is_leak_cleanup_not_a_crash() -> None:
    # 3.13's tracker exits 1 after cleaning leaked resources (leaked-resource reports those).
    tracker = proc(101, t=0.1, cmdline=TRACKER_CMDLINE, exit_code=1, started_as=None)
    assert process_crashed.check(evidence(main_proc(), tracker)) == []
    killed = proc(102, t=0.1, cmdline=TRACKER_CMDLINE, signal=9)
    assert only(evidence(main_proc(), killed)).pids == [102]


def test_exit_codes_of_programs_multiprocessing_did_not_start_are_the_callers_business() -> None:
    grep = proc(
        101,
        t=0.1,
        cmdline=["grep", "x"],
        exe="/usr/bin/grep",
        probed=False,
        python=None,
        exit_code=1,
    )
    crashed = proc(
        102, t=0.1, cmdline=["./native"], exe="/opt/native", probed=False, python=None, signal=11
    )
    f = only(evidence(main_proc(), grep, crashed))
    assert f.pids == [102] and f.title == "native killed by SIGSEGV"


def test_sigterm_from_an_unknown_sender_when_the_parent_has_no_probe_is_only_suspected() -> None:
    main = main_proc(probed=False)
    f = only(evidence(main, child(signal=15)))
    assert (f.severity, f.certainty) == ("warning", "suspected")
    # With a probed parent, a SIGTERM nobody in the program sent is a real crash.
    f = only(evidence(main_proc(), child(signal=15)))
    assert (f.severity, f.certainty) == ("error", "proven")


def test_a_reused_pid_is_judged_on_its_own_kills() -> None:
    # pid 101 was first a child terminated by the program at 1.0 s; the pid was then reused by
    # a new child at 2.0 s that died of SIGTERM from outside. The old kill must not excuse it.
    first = child(101, signal=15, kills=[kill(100, 101, 15, 1.0, "process-terminate")])
    first.ended_s = 1.1
    second = proc(
        101,
        t=2.0,
        name="Process-2",
        started_as="process",
        start_method="fork",
        signal=15,
        kills=list(first.kills),
    )
    f = only(evidence(main_proc(), first, second))
    assert f.title == "Process-2 killed by SIGTERM"


def test_a_spawn_child_orphaned_by_the_tear_down_is_not_a_crash() -> None:
    """mpdoctor ended the parent before it sent the child its data: EOFError in spawn._main."""
    from diagnose_helpers import evidence, exception, main_proc, proc

    from mpdoctor.diagnose.rules import process_crashed

    child = proc(
        201,
        ppid=100,
        exit_code=1,
        started_as="process",
        exception=exception(
            "EOFError",
            "Ran out of input",
            ("/usr/lib/python3.9/multiprocessing/spawn.py", 125, "_main"),
        ),
    )
    parent = main_proc(ended_by_mpdoctor=True)
    assert process_crashed.check(evidence(parent, child)) == []
    parent.ended_by_mpdoctor = False
    assert [f.id for f in process_crashed.check(evidence(parent, child))] == ["process-crashed"]


def test_the_hint_fits_the_death() -> None:
    """An exit code needs no memory advice; a SIGKILL nobody sent does; a fault signal points
    at native code."""
    by_code = only(evidence(main_proc(), child(exit_code=3)))
    assert "SIGKILL" not in by_code.hint.fix and "fault" not in by_code.hint.fix
    by_sigkill = only(evidence(main_proc(), child(signal=9), cgroup_oom_kills=None))
    assert "OOM killer" in by_sigkill.hint.fix
    by_segv = only(evidence(main_proc(), child(signal=11)))
    assert "PYTHONFAULTHANDLER" in by_segv.hint.fix
    sent = child(signal=9, kills=[kill(100, 101, 9, 1.2, "user", line=30)])
    assert "OOM" not in only(evidence(main_proc(), sent)).hint.fix
