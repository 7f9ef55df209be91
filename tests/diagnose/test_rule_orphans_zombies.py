"""orphan-process and zombie-process on hand-built evidence."""

from __future__ import annotations

from diagnose_helpers import SCRIPT, evidence, main_proc, proc, site

from mpdoctor.diagnose.evidence import HangSnapshot, ThreadState
from mpdoctor.diagnose.rules import orphan_process, zombie_process


def consumer(pid: int, **fields):
    fields.setdefault("name", "Process-1")
    fields.setdefault("started_as", "process")
    fields.setdefault("start_method", "fork")
    fields.setdefault("state", "sleeping")
    fields.setdefault("alive_after_main", True)
    fields.setdefault("ended_by_mpdoctor", True)
    return proc(pid, t=0.3, **fields)


def test_one_orphan_ended_by_mpdoctor() -> None:
    orphan = consumer(101, start_site=site(12, "main"), cmdline=["python3", SCRIPT, "--token", "s"])
    [f] = orphan_process.check(evidence(main_proc(), orphan))
    assert (f.id, f.severity, f.certainty) == ("orphan-process", "warning", "proven")
    assert f.title == "Process-1 outlived the main process"
    assert f.message == (
        "fork-child Process-1 (pid 101) was still running after the main process exited; "
        "mpdoctor ended it."
    )
    assert f.evidence == [
        f"fork-child Process-1 (pid 101), ended by mpdoctor: python3 {SCRIPT} --token ***"
    ]
    [loc] = f.locations
    assert (loc.role, loc.line, loc.pid) == ("started", 12, 100)


def test_several_orphans_are_one_finding() -> None:
    ev = evidence(
        main_proc(),
        consumer(101, start_site=site(12)),
        consumer(102, name="Process-2", start_site=site(12)),
        consumer(103, name="Process-3", ended_by_mpdoctor=False),
    )
    [f] = orphan_process.check(ev)
    assert f.pids == [101, 102, 103]
    assert f.title == "3 processes outlived the main process"
    assert f.message.endswith("; mpdoctor ended 2 of them.")
    assert len(f.locations) == 1  # one start line, listed once


def test_kept_orphans_are_said_to_be_left_running() -> None:
    [f] = orphan_process.check(evidence(main_proc(), consumer(101, ended_by_mpdoctor=False)))
    assert f.message.endswith("; it was left running.")
    assert f.evidence[0].startswith("fork-child Process-1 (pid 101), left running (sleeping): ")


def test_no_orphans() -> None:
    ev = evidence(main_proc(alive_after_main=True), consumer(101, alive_after_main=False))
    assert orphan_process.check(ev) == []


def test_a_zombie_for_2_s_names_the_parent_that_did_not_reap_it() -> None:
    zombie = proc(
        101,
        t=0.2,
        name="Process-1",
        started_as="process",
        start_method="fork",
        exit_code=0,
        state="zombie",
        zombie_since_s=0.5,
        zombie_until_s=2.75,
        start_site=site(15, "main"),
    )
    [f] = zombie_process.check(evidence(main_proc(), zombie))
    assert (f.id, f.severity, f.certainty) == ("zombie-process", "warning", "proven")
    assert f.title == "Process-1 stayed a zombie for 2.25 s"
    assert f.message == (
        "Process-1 (pid 101) exited but stayed a zombie for at least 2.25 s: its parent, the "
        "main process (pid 100), did not wait for it."
    )
    assert f.evidence == ["state Z (zombie) from 0.50 s to 2.75 s"]
    assert [(loc.role, loc.line, loc.pid) for loc in f.locations] == [("started", 15, 100)]


def test_a_zombie_joined_late_says_so_not_that_nobody_waited() -> None:
    zombie = proc(
        101,
        t=0.2,
        name="Process-1",
        exit_code=0,
        zombie_since_s=0.5,
        zombie_until_s=3.5,
        exit_seen_by="parent-probe",  # its parent's join() reaped it in the end
    )
    [f] = zombie_process.check(evidence(main_proc(), zombie))
    assert f.message == (
        "Process-1 (pid 101) exited but stayed a zombie for at least 3.00 s: its parent, the "
        "main process (pid 100), waited for it (join()) only 3.00 s after it had exited."
    )


def test_zombie_exit_status_is_shown() -> None:
    zombie = proc(101, t=0.2, name="Process-1", exit_code=3, zombie_since_s=0.5, zombie_until_s=3.0)
    [f] = zombie_process.check(evidence(main_proc(), zombie))
    assert "its exit status: exited with code 3" in f.evidence


def test_short_zombies_and_zombies_the_monitor_reaps_are_not_findings() -> None:
    brief = proc(101, t=0.2, zombie_since_s=0.5, zombie_until_s=2.4)  # reaped in time
    unknown_end = proc(102, t=0.2, zombie_since_s=0.5)
    reparented = proc(103, 1, t=0.2, zombie_since_s=0.5, zombie_until_s=9.0)  # ppid 1: ours
    main = main_proc(zombie_since_s=3.0, zombie_until_s=9.0)
    assert zombie_process.check(evidence(main, brief, unknown_end, reparented)) == []


def test_zombie_parent_is_found_by_create_time_when_its_pid_was_reused() -> None:
    old_parent = proc(101, t=0.1, name="Process-1", exit_code=0, ended_s=0.2)
    new_parent = proc(101, t=0.5, name="Process-9", state="sleeping")
    zombie = proc(102, 101, t=0.6, name="Process-9:1", zombie_since_s=1.0, zombie_until_s=4.0)
    [f] = zombie_process.check(evidence(main_proc(), old_parent, new_parent, zombie))
    assert "its parent, fork-child Process-9 (pid 101), " in f.message


def _stalled(main_wait: ThreadState) -> HangSnapshot:
    """A tree quiet until the end, the main process's main thread (pid 100) in `main_wait`."""
    return HangSnapshot(t_s=5.0, threads={100: [main_wait]}, ended=True, quiet_s=2.0)


def test_a_zombie_under_a_parent_that_only_sleeps_is_a_finding_though_the_tree_is_quiet() -> None:
    # `mpdoctor inspect` of a parent in time.sleep() that never reaps its child: the tree is
    # quiet, but a sleep ends by itself; the parent never waits for the child, which is the bug.
    sleeping = ThreadState(tid=100, state="sleeping", syscall="clock_nanosleep", timed=True,
                           blocked=True)  # fmt: skip
    zombie = proc(101, t=0.2, name="Process-1", exit_code=3, zombie_since_s=0.5, zombie_until_s=3.0)
    ev = evidence(main_proc(state="sleeping"), zombie)
    ev.hang = _stalled(sleeping)
    [f] = zombie_process.check(ev)
    assert f.pids == [101]


def test_a_zombie_under_a_parent_stuck_in_an_untimed_wait_is_left_to_the_hang() -> None:
    joining = ThreadState(tid=100, state="sleeping", syscall="wait4", waits_for_pid=102,
                          blocked=True)  # fmt: skip
    zombie = proc(101, t=0.2, name="Process-1", exit_code=3, zombie_since_s=0.5, zombie_until_s=3.0)
    ev = evidence(main_proc(state="sleeping"), zombie)
    ev.hang = _stalled(joining)
    assert zombie_process.check(ev) == []
