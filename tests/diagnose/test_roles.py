"""Roles from real command lines.

The command lines below were read from /proc/PID/cmdline of the children that CPython 3.8.18,
3.9.18, 3.10.13, 3.11.7, 3.12.1 and 3.13.0 started on this machine (spawn, forkserver and fork
contexts; Process, Pool and Manager); `test_live_command_lines` re-reads them from whichever of
those interpreters is installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from diagnose_helpers import MAIN_CMDLINE, evidence, main_proc, proc

from mpdoctor.diagnose.roles import ROLES, classify, helper_from_cmdline

VERSIONS = ["3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0"]


def _exe(version: str) -> str:
    return f"/root/.pyenv/versions/{version}/bin/python"


def spawn_cmdline(version: str, pipe: int = 6) -> list[str]:
    return [
        _exe(version),
        "-B",
        "-c",
        "from multiprocessing.spawn import spawn_main; "
        f"spawn_main(tracker_fd=4, pipe_handle={pipe})",
        "--multiprocessing-fork",
    ]


def tracker_cmdline(version: str) -> list[str]:
    return [_exe(version), "-B", "-c", "from multiprocessing.resource_tracker import main;main(3)"]


def forkserver_cmdline(version: str) -> list[str]:
    short = version.rsplit(".", 1)[0]
    lib = f"/root/.pyenv/versions/{version}/lib"
    paths = [
        "/tmp/diagwork",
        f"{lib}/python{short.replace('.', '')}.zip",
        f"{lib}/python{short}",
        f"{lib}/python{short}/lib-dynload",
        f"{lib}/python{short}/site-packages",
    ]
    return [
        _exe(version),
        "-B",
        "-c",
        f"from multiprocessing.forkserver import main; main(3, 5, ['__main__'], "
        f"**{{'sys_path': {paths!r}}})",
    ]


def unprobed(pid: int, ppid: int, cmdline: list[str], t: float, **fields) -> object:
    """What psutil alone sees: no probe, no multiprocessing name, no start method."""
    fields.setdefault("probed", False)
    fields.setdefault("python", None)
    fields.setdefault("exe", cmdline[0] if cmdline else None)
    return proc(pid, ppid, t=t, cmdline=cmdline, **fields)


@pytest.mark.parametrize("version", VERSIONS)
def test_spawn_tree_from_command_lines_alone(version: str) -> None:
    main = main_proc(cmdline=[_exe(version), "app.py"], exe=_exe(version), probed=False)
    tracker = unprobed(101, 100, tracker_cmdline(version), 0.1)
    child = unprobed(102, 100, spawn_cmdline(version), 0.2)
    ev = evidence(main, tracker, child)
    assert classify(main, ev) == "main"
    assert classify(tracker, ev) == "resource-tracker"
    assert classify(child, ev) == "spawn-child"


@pytest.mark.parametrize("version", VERSIONS)
def test_forkserver_and_its_children_from_command_lines_alone(version: str) -> None:
    main = main_proc(cmdline=[_exe(version), "app.py"])
    server = unprobed(101, 100, forkserver_cmdline(version), 0.1)
    child = unprobed(102, 101, forkserver_cmdline(version), 0.2)
    worker = unprobed(103, 101, forkserver_cmdline(version), 0.3, name="ForkServerPoolWorker-2")
    manager = unprobed(104, 101, forkserver_cmdline(version), 0.4, name="SyncManager-3")
    ev = evidence(main, server, child, worker, manager)
    assert classify(server, ev) == "forkserver"
    assert classify(child, ev) == "forkserver-child"  # a fork of the server: same command line
    assert classify(worker, ev) == "pool-worker"
    assert classify(manager, ev) == "manager"


@pytest.mark.parametrize("version", VERSIONS)
def test_fork_children_reuse_the_parent_command_line(version: str) -> None:
    cmdline = [_exe(version), "cmdlines.py", "fork"]
    main = main_proc(cmdline=cmdline)
    child = unprobed(101, 100, list(cmdline), 0.1)
    grandchild = unprobed(102, 101, list(cmdline), 0.2)
    ev = evidence(main, child, grandchild)
    assert classify(child, ev) == "fork-child"
    assert classify(grandchild, ev) == "fork-child"


def test_a_forkserver_read_from_the_shared_command_line_is_not_the_server() -> None:
    # A collector that fills started_as from the command line alone says "forkserver" for the
    # server's children too: the parent (the server, same command line) tells them apart.
    main = main_proc()
    server = unprobed(101, 100, forkserver_cmdline("3.12.1"), 0.1, started_as="forkserver")
    child = unprobed(102, 101, forkserver_cmdline("3.12.1"), 0.2, started_as="forkserver")
    worker = unprobed(
        103,
        101,
        forkserver_cmdline("3.12.1"),
        0.3,
        started_as="forkserver",
        name="ForkServerPoolWorker-1",
    )
    ev = evidence(main, server, child, worker)
    assert [classify(p, ev) for p in (server, child, worker)] == [
        "forkserver",
        "forkserver-child",
        "pool-worker",
    ]


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("ForkPoolWorker-1", "pool-worker"),
        ("SpawnPoolWorker-12", "pool-worker"),
        ("ForkServerPoolWorker-3", "pool-worker"),
        ("PoolWorker-1:2", "pool-worker"),
        ("SyncManager-1", "manager"),
        ("BaseManager-2:1", "manager"),
        ("MyManager-4", "manager"),
        ("ForkProcess-2", "fork-child"),
        ("SpawnProcess-2", "spawn-child"),
        ("ForkServerProcess-7", "forkserver-child"),
    ],
)
def test_multiprocessing_names(name: str, role: str) -> None:
    # A worker seen by psutil only (the parent ran without the probe): its name comes from
    # multiprocessing's bootstrap, its command line says nothing (here a spawn one for spawn).
    cmdline = spawn_cmdline("3.11.7") if role == "spawn-child" else list(MAIN_CMDLINE)
    child = unprobed(101, 100, cmdline, 0.1, name=name)
    assert classify(child, evidence(main_proc(), child)) == role


@pytest.mark.parametrize(
    ("started_as", "method", "role"),
    [
        ("pool-worker", "spawn", "pool-worker"),
        ("executor-worker", "forkserver", "executor-worker"),
        ("manager", "fork", "manager"),
        ("forkserver", None, "forkserver"),
        ("resource-tracker", None, "resource-tracker"),
        ("process", "fork", "fork-child"),
        ("process", "spawn", "spawn-child"),
        ("process", "forkserver", "forkserver-child"),
    ],
)
def test_the_parents_probe_wins(started_as: str, method: str | None, role: str) -> None:
    # An executor worker's name ("SpawnProcess-3") would say spawn-child; the probe knows better.
    child = proc(101, t=0.1, name="SpawnProcess-3", started_as=started_as, start_method=method)
    assert classify(child, evidence(main_proc(), child)) == role


def test_python_and_non_python_children() -> None:
    main = main_proc()
    sub_python = unprobed(101, 100, ["/usr/bin/python3.12", "-c", "print(1)"], 0.1)
    probed_python = proc(102, t=0.2, cmdline=["/opt/venv/bin/tool", "--x"], exe="/opt/tool")
    sleep = unprobed(103, 100, ["sleep", "10"], 0.3, exe="/usr/bin/sleep")
    shell = unprobed(104, 100, ["/bin/sh", "-c", "from multiprocessing.spawn import x"], 0.4)
    ev = evidence(main, sub_python, probed_python, sleep, shell)
    assert classify(sub_python, ev) == "python"
    assert classify(probed_python, ev) == "python"
    assert classify(sleep, ev) == "non-python"
    assert classify(shell, ev) == "non-python"


@pytest.mark.parametrize(
    "flags",
    [[], ["-B"], ["-B", "-s"], ["-I"], ["-X", "dev", "-W", "error"], ["-E", "-s", "-OO", "-u"]],
)
def test_interpreter_flags_before_dash_c(flags: list[str]) -> None:
    # spawn passes the parent's interpreter flags (_args_from_interpreter_flags) before -c.
    code = "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5, pipe_handle=9)"
    assert helper_from_cmdline(["python3", *flags, "-c", code, "--multiprocessing-fork"]) == (
        "spawn-child"
    )
    tracker = ["python3", *flags, "-c", "from multiprocessing.resource_tracker import main;main(4)"]
    assert helper_from_cmdline(tracker) == "resource-tracker"


def test_command_lines_that_only_look_similar() -> None:
    code = "from multiprocessing.spawn import spawn_main"
    assert helper_from_cmdline(["python3", "script.py", "-c", code]) is None  # script's own -c
    assert helper_from_cmdline(["python3", "-m", "mod", "-c", code]) is None
    assert helper_from_cmdline(["python3", "-c"]) is None
    assert helper_from_cmdline([]) is None
    # 3.7 called the tracker semaphore_tracker.
    old = ["python3.7", "-c", "from multiprocessing.semaphore_tracker import main;main(3)"]
    assert helper_from_cmdline(old) == "resource-tracker"
    # Frozen executables and Windows: spawn children get --multiprocessing-fork.
    frozen = ["app.exe", "--multiprocessing-fork", "parent_pid=10", "pipe_handle=20"]
    assert helper_from_cmdline(frozen) == "spawn-child"


def test_a_reused_pid_does_not_lend_its_command_line() -> None:
    # pid 101 first ran the user's script (a fork child); after it died the pid was reused by a
    # `sleep` started later; the child of the *later* 101 is the sleep's, not a fork child.
    main = main_proc()
    old = unprobed(101, 100, list(MAIN_CMDLINE), 0.1, exit_code=0, ended_s=0.5)
    new = unprobed(101, 100, ["sleep", "5"], 1.0, exe="/usr/bin/sleep")
    kid = unprobed(102, 101, list(MAIN_CMDLINE), 1.5, exe="/usr/bin/python3")
    ev = evidence(main, old, new, kid)
    assert classify(old, ev) == "fork-child"
    assert classify(new, ev) == "non-python"
    assert classify(kid, ev) == "python"  # its parent is the sleep: no command line to share


def test_without_a_command_line_the_name_or_the_python_parent_tells() -> None:
    """A zombie or a child that exited before it was sampled has no command line (nor exe):
    its name (the kernel's comm), or the probe, still says it is a Python."""
    # inspect, nothing probed: a zombie producer named "python" is a Python, fork or spawn unknown
    main = main_proc(name="python", probed=False, python=None, exe=None)
    zombie = unprobed(101, 100, [], 0.1, exe=None, name="python", state="zombie")
    assert classify(zombie, evidence(main, zombie)) == "python"
    # run: the first child of a double fork exits at once, before its fork hook registered it;
    # it runs its probed parent's program (same name, even one not spelled "python")
    app = main_proc(name="myapp")
    first = unprobed(102, 100, [], 0.1, exe=None, name="myapp", exit_code=0)
    assert classify(first, evidence(app, first)) == "fork-child"
    # the same, with the parent's interpreter as its executable
    same_exe = unprobed(103, 100, [], 0.1, exe="/opt/app/bin/app", name=None, exit_code=0)
    parent = main_proc(exe="/opt/app/bin/app", name="app")
    assert classify(same_exe, evidence(parent, same_exe)) == "fork-child"
    # the probe registered: a Python, whatever its name
    probed = proc(104, t=0.1, cmdline=[], exe=None, name="worker")
    assert classify(probed, evidence(main_proc(), probed)) in ("fork-child", "python")
    # known to be something else
    sleep = unprobed(105, 100, [], 0.1, exe=None, name="sleep", exit_code=0)
    assert classify(sleep, evidence(main_proc(name="python"), sleep)) == "non-python"
    unnamed = unprobed(106, 100, [], 0.1, exe=None, name=None, exit_code=0)
    assert classify(unnamed, evidence(main_proc(name="python"), unnamed)) == "non-python"


def test_every_role_is_listed() -> None:
    assert len(set(ROLES)) == len(ROLES) == 11


_LIVE_SCRIPT = r"""
import json, multiprocessing as mp, os, sys, time

def descendants(root):
    found = {}
    for pid in os.listdir('/proc'):
        if pid.isdigit():
            try:
                stat = open('/proc/%s/stat' % pid).read()
                cmd = open('/proc/%s/cmdline' % pid, 'rb').read().split(b'\0')[:-1]
            except OSError:
                continue
            found[int(pid)] = (int(stat.rsplit(')', 1)[1].split()[1]), [c.decode() for c in cmd])
    out, todo = [], [root]
    while todo:
        parent = todo.pop()
        for pid, (ppid, cmd) in sorted(found.items()):
            if ppid == parent:
                out.append([pid, ppid, cmd])
                todo.append(pid)
    return out

def nap():
    time.sleep(1.0)

if __name__ == '__main__':
    p = mp.get_context(sys.argv[1]).Process(target=nap)
    p.start()
    time.sleep(0.4)
    print(json.dumps([os.getpid(), descendants(os.getpid())]))
    p.join()
"""

EXPECTED = {
    "spawn": ["resource-tracker", "spawn-child"],
    "forkserver": ["forkserver", "forkserver-child", "resource-tracker"],
    "fork": ["fork-child"],
}


def _pythons() -> list:
    """The running interpreter in every run; the other installed versions as slow tests."""
    found = [pytest.param(sys.executable, id="current")]
    for version in VERSIONS:
        if os.path.exists(_exe(version)):
            found.append(pytest.param(_exe(version), id=version, marks=pytest.mark.slow))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("method", sorted(EXPECTED))
@pytest.mark.parametrize("python", _pythons())
def test_live_command_lines(python: str, method: str, tmp_path: Path) -> None:
    """Start a real child, read the command lines of the program's descendants from /proc,
    and classify them from the command lines alone (as without the probe)."""
    script = tmp_path / "live.py"
    script.write_text(_LIVE_SCRIPT)
    out = subprocess.run(
        [python, str(script), method], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    root, rows = json.loads(out)
    main = main_proc(cmdline=[python, str(script), method], exe=python, probed=False)
    procs = [
        unprobed(pid, 100 if ppid == root else ppid, cmd, 0.1 * i)
        for i, (pid, ppid, cmd) in enumerate(rows, start=1)
    ]
    ev = evidence(main, *procs)
    assert sorted(classify(p, ev) for p in procs) == EXPECTED[method], rows


def _with_stack(ev, pid: int, frames: list[tuple[str, str]], *, t_s: float = 5.0, tid=None):
    """A hang snapshot holding `pid`'s main thread stack (innermost first), as py-spy gives."""
    from mpdoctor.diagnose.evidence import HangSnapshot, ThreadStack
    from mpdoctor.model import Frame

    stack = ThreadStack(
        ident=1,
        tid=pid if tid is None else tid,
        name="MainThread",
        frames=[Frame(f"/usr/lib/python3.14/{file}", 10, fn) for file, fn in frames],
    )
    ev.hang = ev.hang or HangSnapshot(t_s=t_s)
    ev.hang.stacks[pid] = [stack]
    return ev


_WORKER_STACK = [
    ("multiprocessing/queues.py", "get"),
    ("multiprocessing/pool.py", "worker"),
    ("multiprocessing/process.py", "run"),
    ("multiprocessing/process.py", "_bootstrap"),
    ("multiprocessing/spawn.py", "_main"),
    ("multiprocessing/forkserver.py", "_serve_one"),
    ("multiprocessing/forkserver.py", "main"),
]


def test_forkserver_children_by_their_stack_without_the_probe() -> None:
    # Python 3.14's default on Linux: a Pool's workers are forks of the fork server, with its
    # command line and no name psutil can see; their stacks (py-spy) say what they run.
    main = main_proc(cmdline=[_exe("3.12.1"), "app.py"], probed=False, state="sleeping")
    server = unprobed(101, 100, forkserver_cmdline("3.12.1"), 0.1, state="sleeping")
    worker = unprobed(
        102, 101, forkserver_cmdline("3.12.1"), 0.2, name="python3.12", state="sleeping"
    )
    executor = unprobed(103, 101, forkserver_cmdline("3.12.1"), 0.3, state="sleeping")
    manager = unprobed(104, 101, forkserver_cmdline("3.12.1"), 0.4, state="sleeping")
    plain = unprobed(105, 101, forkserver_cmdline("3.12.1"), 0.5, state="sleeping")
    no_main_tid = unprobed(106, 101, forkserver_cmdline("3.12.1"), 0.6, state="sleeping")
    ev = evidence(main, server, worker, executor, manager, plain, no_main_tid)
    _with_stack(ev, 102, _WORKER_STACK)
    _with_stack(ev, 103, [("concurrent/futures/process.py", "_process_worker")])
    _with_stack(ev, 104, [("threading.py", "wait"), ("multiprocessing/managers.py",
                                                       "serve_forever")])  # fmt: skip
    _with_stack(ev, 105, [("app.py", "target"), ("multiprocessing/process.py", "run")])
    _with_stack(ev, 106, _WORKER_STACK, tid=999)  # another thread's stack says nothing
    ev.hang.stacks[106][0].name = "Thread-1"
    roles = [classify(p, ev) for p in (server, worker, executor, manager, plain, no_main_tid)]
    assert roles == [
        "forkserver",
        "pool-worker",
        "executor-worker",
        "manager",
        "forkserver-child",
        "forkserver-child",
    ]


def test_a_stack_never_overrides_the_probe_and_never_lends_to_a_reused_pid() -> None:
    main = main_proc()
    child = proc(101, t=0.1, started_as="process", start_method="fork")
    old = unprobed(102, 100, list(MAIN_CMDLINE), 0.2, exit_code=0, ended_s=1.0)
    ev = evidence(main, child, old)
    _with_stack(ev, 101, _WORKER_STACK, t_s=5.0)
    _with_stack(ev, 102, _WORKER_STACK, t_s=5.0)  # a later process with pid 102
    assert classify(child, ev) == "fork-child"
    assert classify(old, ev) == "fork-child"
