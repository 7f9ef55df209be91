"""Joining probe events and samples into Evidence, on hand-written event files."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from mpdoctor.collect.events import read_events
from mpdoctor.collect.evidence_builder import BuildInputs, build_evidence, helper_role
from mpdoctor.collect.sampler import ProcessSample
from mpdoctor.diagnose.evidence import ProcessKey

T0 = 1000.0  # launch time; create_time = T0 + ticks / 100 with this fake boot time


def key_from_ticks(pid: int, ticks: int) -> ProcessKey:
    return ProcessKey(pid, round(T0 + ticks / 100, 2))


def write(events: Path, pid: int, ticks: int, *records: dict) -> None:
    events.mkdir(exist_ok=True)
    with open(events / f"{pid}-{ticks}.jsonl", "a") as f:
        for r in records:
            f.write(json.dumps({"pid": pid, **r}) + "\n")


def start(t: float, ppid: int, ticks: int, argv=("app.py",)) -> dict:
    return {
        "e": "start",
        "t": t,
        "ppid": ppid,
        "ticks": ticks,
        "argv": list(argv),
        "exe": "/usr/bin/python3",
        "py": "3.11.7",
        "forked": ppid != 1,
    }


def sample(pid: int, ticks: int, **kw) -> tuple[ProcessKey, ProcessSample]:
    key = key_from_ticks(pid, ticks)
    defaults = {
        "ppid": 1,
        "first_seen_s": ticks / 100,
        "last_seen_s": ticks / 100 + 1,
        "state": "sleeping",
        "cmdline": ["python3", "app.py"],
        "name": "python3",
    }
    return key, ProcessSample(key=key, **{**defaults, **kw})


def build(events: Path, samples: dict, main: ProcessKey, **kw):
    return build_evidence(
        BuildInputs(
            t0=T0,
            streams=read_events(events),
            samples=samples,
            main_key=main,
            key_from_ticks=key_from_ticks,
            **kw,
        )
    )


SITE = {"file": "/work/app.py", "line": 12, "function": "main"}


def test_a_pool_worker_killed_by_sigkill(tmp_path):
    ev = tmp_path / "events"
    write(
        ev,
        100,
        0,
        start(T0 + 0.01, 1, 0),
        {"e": "mp", "t": T0 + 0.02, "method": None, "default_method": "fork", "role": None},
        {
            "e": "pool",
            "t": T0 + 0.1,
            "pool": "100:1",
            "kind": "Pool",
            "size": 2,
            "method": "fork",
            "site": SITE,
        },
        {
            "e": "child-start",
            "t": T0 + 0.11,
            "child": 101,
            "name": "ForkPoolWorker-1",
            "method": "fork",
            "daemon": True,
            "kind": "pool-worker",
            "pool": "100:1",
            "target": None,
            "site": SITE,
        },
        {"e": "child-exit", "t": T0 + 0.9, "child": 101, "exitcode": -9, "name": "W"},
        {"e": "pool-end", "t": T0 + 1.5, "pool": "100:1", "how": "terminate"},
    )
    write(
        ev,
        101,
        10,
        start(T0 + 0.11, 100, 10, argv=["app.py"]),
        {
            "e": "bootstrap",
            "t": T0 + 0.12,
            "name": "ForkPoolWorker-1",
            "method": "fork",
            "parent_pid": 100,
            "daemon": True,
        },
    )
    samples = dict(
        [
            sample(100, 0, ppid=50, cpu_s=0.5, peak_rss_bytes=10_000_000),
            sample(
                101,
                10,
                ppid=100,
                zombie_status=signal.SIGKILL,
                zombie_since_s=0.85,
                zombie_until_s=0.88,
                gone_s=1.0,
                state="zombie",
            ),
        ]
    )
    main = key_from_ticks(100, 0)
    evidence = build(ev, samples, main, main_status=0, main_ended_s=2.0, duration_s=2.1)

    assert evidence.main == main
    m = evidence.processes[main]
    assert (m.exit_code, m.signal, m.exit_seen_by, m.state) == (0, None, "monitor-reap", "exited")
    assert m.ended_s == 2.0 and m.probed and m.python == "3.11.7" and m.cpu_s == 0.5
    w = evidence.processes[key_from_ticks(101, 10)]
    # The parent's probe outranks the zombie's stat: both say SIGKILL here.
    assert (w.exit_code, w.signal, w.exit_seen_by) == (None, 9, "parent-probe")
    assert w.started_as == "pool-worker" and w.pool_id == "100:1" and w.daemon
    assert w.name == "ForkPoolWorker-1" and w.start_method == "fork" and w.ppid == 100
    assert w.start_site.line == 12
    assert w.ended_s == 0.85  # it became a zombie then: the earliest sign it ended
    # a zombie at the samples of 0.85 and 0.88, until its parent reaped it at 0.9 (child-exit)
    assert w.zombie_since_s == 0.85 and w.zombie_until_s == 0.9 and w.state == "exited"
    (pool,) = evidence.pools
    assert (pool.pool_id, pool.kind, pool.owner_pid, pool.size) == ("100:1", "Pool", 100, 2)
    assert (pool.created_s, pool.ended_s, pool.ended_how) == (0.1, 1.5, "terminate")
    assert pool.site.file == "/work/app.py"
    assert evidence.duration_s == 2.1 and evidence.main_ended_s == 2.0


def test_a_reused_pid_is_two_processes_each_with_its_own_exit(tmp_path):
    ev = tmp_path / "events"
    write(
        ev,
        100,
        0,
        start(T0, 1, 0),
        {"e": "child-start", "t": T0 + 0.51, "child": 200, "kind": "process"},
        {"e": "child-exit", "t": T0 + 1.0, "child": 200, "exitcode": 1},
        {
            "e": "kill",
            "t": T0 + 3.5,
            "target": 200,
            "sig": 15,
            "via": "process-terminate",
            "site": SITE,
        },
        {"e": "child-start", "t": T0 + 3.01, "child": 200, "kind": "process"},
        {"e": "child-exit", "t": T0 + 4.0, "child": 200, "exitcode": -15},
    )
    write(ev, 200, 50, start(T0 + 0.51, 100, 50))
    write(ev, 200, 300, start(T0 + 3.01, 100, 300))
    samples = dict([sample(100, 0), sample(200, 50, ppid=100), sample(200, 300, ppid=100)])
    evidence = build(ev, samples, key_from_ticks(100, 0), main_status=0)

    first, second = evidence.by_pid(200)
    assert first.key.create_time < second.key.create_time
    assert (first.exit_code, first.signal) == (1, None)
    assert (second.exit_code, second.signal) == (None, 15)
    assert first.kills == [] and [k.signal for k in second.kills] == [15]
    assert second.kills[0].via == "process-terminate" and second.kills[0].sender_pid == 100


def test_a_zombie_lasts_until_its_parent_reaps_it_not_only_until_the_last_sample(tmp_path):
    """The sampler looks once a second at a tree that does not change: a child seen a zombie at
    0.3 s and 1.3 s, and joined at 3.0 s, was a zombie for 2.7 s (zombie-process), not 1 s."""
    from mpdoctor.diagnose.rules import zombie_process

    ev = tmp_path / "events"
    write(
        ev,
        100,
        0,
        start(T0, 1, 0),
        {"e": "child-start", "t": T0 + 0.05, "child": 101, "kind": "process", "site": SITE},
        {"e": "child-exit", "t": T0 + 3.0, "child": 101, "exitcode": 0},
    )
    write(ev, 101, 5, start(T0 + 0.05, 100, 5))
    zombie = dict(zombie_status=0, zombie_since_s=0.3, zombie_until_s=1.3, state="zombie")
    samples = dict([sample(100, 0), sample(101, 5, ppid=100, **zombie)])
    evidence = build(ev, samples, key_from_ticks(100, 0), main_status=0, duration_s=3.1)

    child = evidence.processes[key_from_ticks(101, 5)]
    assert (child.zombie_since_s, child.zombie_until_s, child.ended_s) == (0.3, 3.0, 0.3)
    [finding] = zombie_process.check(evidence)
    assert finding.pids == [101] and "2.7" in finding.title


def test_monitor_reap_outranks_parent_probe_and_zombie_stat(tmp_path):
    ev = tmp_path / "events"
    write(
        ev, 100, 0, start(T0, 1, 0), {"e": "child-exit", "t": T0 + 1.0, "child": 101, "exitcode": 5}
    )
    samples = dict(
        [sample(100, 0), sample(101, 10, reaped_status=7 << 8, reaped_s=0.9, zombie_status=6 << 8)]
    )
    evidence = build(ev, samples, key_from_ticks(100, 0))
    orphan = evidence.processes[key_from_ticks(101, 10)]
    assert (orphan.exit_code, orphan.exit_seen_by) == (7, "monitor-reap")


def test_a_process_known_only_from_its_own_events(tmp_path):
    """Born and gone between two samples: the probe file still tells its story."""
    ev = tmp_path / "events"
    write(
        ev,
        100,
        0,
        start(T0, 1, 0),
        {
            "e": "child-start",
            "t": T0 + 0.3,
            "child": 102,
            "name": "Process-1",
            "kind": "process",
            "target": "work",
            "site": SITE,
        },
        {"e": "child-exit", "t": T0 + 0.4, "child": 102, "exitcode": 1},
    )
    write(
        ev,
        102,
        30,
        start(T0 + 0.3, 100, 30, argv=["-c", "x"]),
        {
            "e": "exception",
            "t": T0 + 0.35,
            "type": "ZeroDivisionError",
            "module": "builtins",
            "message": "division by zero",
            "traceback": "Traceback...\nZeroDivisionError: ...\n",
            "frames": [{"file": "/work/app.py", "line": 3, "function": "work"}],
        },
        {
            "e": "warning",
            "t": T0 + 0.36,
            "category": "UserWarning",
            "message": "careful",
            "filename": "/work/app.py",
            "lineno": 4,
        },
    )
    evidence = build(ev, dict([sample(100, 0)]), key_from_ticks(100, 0))
    child = evidence.processes[key_from_ticks(102, 30)]
    assert child.probed and child.state == "exited" and child.ppid == 100
    assert child.cmdline == ["/usr/bin/python3", "-c", "x"]
    assert (child.exit_code, child.exit_seen_by, child.ended_s) == (1, "parent-probe", 0.4)
    assert child.target == "work" and child.name == "Process-1"
    assert child.exception.type == "ZeroDivisionError" and child.exception.frames[0].line == 3
    (warning,) = evidence.warnings
    assert (warning.pid, warning.category, warning.lineno, warning.t_s) == (
        102,
        "UserWarning",
        4,
        0.36,
    )


def test_a_child_only_its_parent_saw(tmp_path):
    """No sample, no probe in the child (e.g. it ran with -I): the parent's events still count."""
    ev = tmp_path / "events"
    write(
        ev,
        100,
        0,
        start(T0, 1, 0),
        {"e": "child-start", "t": T0 + 0.3, "child": 103, "kind": "process"},
        {"e": "child-exit", "t": T0 + 0.4, "child": 103, "exitcode": -11},
    )
    evidence = build(ev, dict([sample(100, 0)]), key_from_ticks(100, 0))
    (child,) = evidence.by_pid(103)
    assert child.signal == 11 and not child.probed and child.started_as == "process"


def test_flags_helpers_and_ordering(tmp_path):
    ev = tmp_path / "events"
    tracker_cmd = ["python3", "-c", "from multiprocessing.resource_tracker import main;main(5)"]
    samples = dict(
        [
            sample(100, 0),
            sample(104, 40, ppid=100, cmdline=tracker_cmd),
            sample(
                105,
                20,
                ppid=100,
                cmdline=["python3", "-c", "from multiprocessing.forkserver import main; main(1)"],
            ),
            sample(106, 60, ppid=100, cmdline=["sleep", "30"]),
        ]
    )
    write(
        ev,
        107,
        70,
        start(T0 + 0.7, 100, 70),
        {
            "e": "mp",
            "t": T0 + 0.7,
            "method": None,
            "default_method": "fork",
            "role": "resource-tracker",
        },
    )
    evidence = build(
        ev,
        samples,
        key_from_ticks(100, 0),
        alive_after_main=[key_from_ticks(106, 60)],
        ended_by_mpdoctor=[key_from_ticks(106, 60)],
        cgroup_oom_kills=1,
    )
    assert [k.pid for k in evidence.processes] == [100, 105, 104, 106, 107]  # by create time
    roles = {k.pid: p.started_as for k, p in evidence.processes.items()}
    assert roles == {
        100: None,
        104: "resource-tracker",
        105: "forkserver",
        106: None,
        107: "resource-tracker",
    }
    sleeper = evidence.processes[key_from_ticks(106, 60)]
    assert sleeper.alive_after_main and sleeper.ended_by_mpdoctor
    assert evidence.cgroup_oom_kills == 1


def test_helper_role_reads_the_command_line():
    assert helper_role(["python", "-c", "from multiprocessing.spawn import spawn_main"]) is None
    assert helper_role(["python", "-c", "from multiprocessing.forkserver import main"]) == (
        "forkserver"
    )


def test_a_main_gone_before_proc_showed_it_has_the_command_mpdoctor_ran(tmp_path):
    """`mpdoctor run -- sleep 0.01`: first seen a zombie (no command line, no address space).
    Its command line is what mpdoctor executed; its peak is unknown."""
    main = key_from_ticks(100, 0)
    samples = dict([sample(100, 0, cmdline=[], name="sleep", state="zombie")])
    evidence = build(tmp_path / "none", samples, main, main_status=0, main_argv=["sleep", "0.01"])
    m = evidence.processes[main]
    assert (m.cmdline, m.name, m.peak_rss_bytes) == (["sleep", "0.01"], "sleep", None)


def test_a_main_never_sampled_has_the_command_mpdoctor_ran_not_its_probe_s_guess(tmp_path):
    ev = tmp_path / "events"
    write(ev, 100, 0, start(T0, 1, 0, argv=["app.py", "-v"]))
    main = key_from_ticks(100, 0)
    evidence = build(ev, {}, main, main_status=0, main_argv=["python", "app.py", "-v"])
    assert evidence.processes[main].cmdline == ["python", "app.py", "-v"]
    assert evidence.processes[main].peak_rss_bytes is None


def test_a_main_s_command_line_from_proc_wins_over_the_one_mpdoctor_ran(tmp_path):
    """The pyenv shim exec'd the real python: /proc shows what runs."""
    main = key_from_ticks(100, 0)
    real = ["/root/.pyenv/versions/3.11.7/bin/python", "app.py"]
    samples = dict([sample(100, 0, cmdline=real)])
    evidence = build(tmp_path / "none", samples, main, main_argv=["python", "app.py"])
    assert evidence.processes[main].cmdline == real


def test_a_probed_child_seen_only_as_a_zombie_has_its_probe_s_command_line(tmp_path):
    ev = tmp_path / "events"
    write(ev, 100, 0, start(T0, 1, 0))
    write(ev, 101, 10, start(T0 + 0.1, 100, 10, argv=["app.py"]))
    samples = dict(
        [sample(100, 0), sample(101, 10, ppid=100, cmdline=[], state="zombie", zombie_status=0)]
    )
    evidence = build(ev, samples, key_from_ticks(100, 0), main_argv=["python3", "app.py"])
    child = evidence.processes[key_from_ticks(101, 10)]
    assert child.cmdline == ["/usr/bin/python3", "app.py"]


def test_a_process_never_ends_before_it_starts(tmp_path):
    """A create_time is a 10 ms clock tick (and the clock skew is read to one too): a child that
    lives a millisecond looks created after its parent reaped it. Its start is brought back to
    what proves it existed: the parent's child-start, its first event, at worst its end."""
    ev = tmp_path / "events"
    write(
        ev,
        100,
        0,
        start(T0, 1, 0),
        {"e": "child-start", "t": T0 + 0.045, "child": 101, "kind": "process", "site": SITE},
        {"e": "child-exit", "t": T0 + 0.049, "child": 101, "exitcode": 0},
        {"e": "child-exit", "t": T0 + 0.069, "child": 102, "exitcode": 0},
    )
    zombie = dict(zombie_status=0, zombie_since_s=0.08, state="zombie")
    samples = dict(
        [
            sample(100, 0),
            sample(101, 5, ppid=100, **zombie),  # created 0.05 by its ticks
            sample(102, 7, ppid=100, cmdline=[], **zombie),  # created 0.07, no child-start
        ]
    )
    evidence = build(ev, samples, key_from_ticks(100, 0), main_status=0, duration_s=0.2)
    first = evidence.processes[key_from_ticks(101, 5)]
    second = evidence.processes[key_from_ticks(102, 7)]
    assert (first.started_s, first.ended_s) == (0.045, 0.049)
    assert (second.started_s, second.ended_s) == (0.069, 0.069)
    for p in evidence.processes.values():
        assert p.ended_s is None or p.started_s <= p.ended_s, p
