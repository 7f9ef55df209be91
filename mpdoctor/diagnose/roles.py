"""What each process of the tree is: main, a multiprocessing child or helper, or something else.

Evidence in order of strength: what the probed parent said it started (`started_as`), the command
line multiprocessing gave the process (FAILURES.md D3), the start method its bootstrap reported,
multiprocessing's process names, the main thread's stack when a hang snapshot has one (a Pool's
`worker()` below everything else: how `mpdoctor inspect` tells a pool worker from another child
of the fork server without the probe, since both share the server's command line), and last
whether it is a Python at all: the probe registered in it, or its executable, argv[0] or name
says so, or it runs its Python parent's program (a zombie or a process that exited before it
was sampled has no command line, but still its name).
"""

from __future__ import annotations

import os
import re

from mpdoctor.diagnose.evidence import Evidence, ProcessEvidence, ProcessKey
from mpdoctor.diagnose.family import parent_of, parents

ROLES = (
    "main",
    "fork-child",
    "spawn-child",
    "forkserver",
    "forkserver-child",
    "resource-tracker",
    "pool-worker",
    "executor-worker",
    "manager",
    "python",
    "non-python",
)

# Roles a probed parent reports, which need no further reading.
_DIRECT = {"pool-worker", "executor-worker", "manager", "forkserver", "resource-tracker"}
_BY_METHOD = {"fork": "fork-child", "spawn": "spawn-child", "forkserver": "forkserver-child"}

# `-c` programs multiprocessing runs (3.7 named the tracker semaphore_tracker).
_SPAWN_CODE = re.compile(r"^\s*from multiprocessing\.spawn import spawn_main\b")
_FORKSERVER_CODE = re.compile(r"^\s*from multiprocessing\.forkserver import main\b")
_TRACKER_CODE = re.compile(
    r"^\s*from multiprocessing\.(resource_tracker|semaphore_tracker) import main\b"
)

# Names multiprocessing gives: pool.py turns "ForkProcess-3" into "ForkPoolWorker-3";
# managers.py names its server "<ManagerClass>-<identity>", e.g. "SyncManager-1" or "-1:2".
_POOL_WORKER_NAME = re.compile(r"^(Fork|Spawn|ForkServer)?PoolWorker-\d+(:\d+)*$")
_MANAGER_NAME = re.compile(r"^\w*Manager-\d+(:\d+)*$")
_PROCESS_NAME = {
    "ForkProcess": "fork-child",
    "SpawnProcess": "spawn-child",
    "ForkServerProcess": "forkserver-child",
}
_FLAGS_WITH_VALUE = ("-X", "-W", "--check-hash-based-pycs")
# The function a helper's main thread runs for its whole life: (module file, function) -> role.
_STACK_ROLES = {
    ("multiprocessing/pool.py", "worker"): "pool-worker",
    ("concurrent/futures/process.py", "_process_worker"): "executor-worker",
    ("multiprocessing/managers.py", "serve_forever"): "manager",
}
_PYTHON_EXE = re.compile(r"^(python|pypy)(\d+(\.\d+)*)?[dmu]*(\.exe)?$", re.IGNORECASE)


def helper_from_cmdline(cmdline: list[str]) -> str | None:
    """The helper role of a command line that multiprocessing builds, else None.

    "spawn-child", "forkserver" or "resource-tracker"; interpreter flags (-B, -s, -I, -X dev...)
    may precede -c.
    """
    if "--multiprocessing-fork" in cmdline[1:]:  # spawn on POSIX, and frozen executables
        return "spawn-child"
    code = _c_argument(cmdline)
    if code is None:
        return None
    if _SPAWN_CODE.match(code):
        return "spawn-child"
    if _FORKSERVER_CODE.match(code):
        return "forkserver"
    if _TRACKER_CODE.match(code):
        return "resource-tracker"
    return None


def helper_from_stack(proc: ProcessEvidence, evidence: Evidence) -> str | None:
    """The helper role the main thread's stack shows (pool-worker, executor-worker, manager),
    from the hang snapshot of a live process; None without one."""
    hang = evidence.hang
    if hang is None or (proc.ended_s is not None and proc.ended_s < hang.t_s):
        return None  # no stack, or an earlier process with the same pid
    stacks = hang.stacks.get(proc.key.pid, [])
    main = hang.stack_of(proc.key.pid, proc.key.pid) or next(
        (s for s in stacks if s.name == "MainThread"), None
    )
    if main is None:
        return None
    for frame in main.frames:
        for (module, function), role in _STACK_ROLES.items():
            if frame.function == function and frame.file.endswith(module):
                return role
    return None


def _c_argument(cmdline: list[str]) -> str | None:
    """The program of `python [flags] -c PROGRAM`, else None."""
    i = 1
    while i < len(cmdline):
        arg = cmdline[i]
        if arg == "-c":
            return cmdline[i + 1] if i + 1 < len(cmdline) else None
        if arg in _FLAGS_WITH_VALUE:
            i += 2
            continue
        if not arg.startswith("-") or arg in ("-", "-m"):
            return None  # a script, stdin or a module: what follows is its own
        i += 1
    return None


def _is_python(proc: ProcessEvidence, parent: ProcessEvidence | None = None) -> bool:
    """The probe registered in it, or its executable, argv[0] or name (psutil's, the kernel's
    `comm`, all a zombie still has) names a Python; or, its command line unknown, it runs its
    Python parent's program (`_same_program`)."""
    if proc.probed or proc.python:
        return True
    if runs_python(proc.exe, proc.cmdline[0] if proc.cmdline else None, proc.name):
        return True
    return (
        not proc.cmdline
        and parent is not None
        and _is_python(parent)
        and _same_program(proc, parent)
    )


def _same_program(proc: ProcessEvidence, parent: ProcessEvidence) -> bool:
    """Its executable or its name is its parent's: what a fork keeps (a fork child that exits
    at once, or a zombie, has no command line to compare)."""
    same_exe = bool(proc.exe) and proc.exe == parent.exe
    return same_exe or (bool(proc.name) and proc.name == parent.name)


def runs_python(*paths: str | None) -> bool:
    """Some of these (executable, argv[0], process name) names a Python interpreter."""
    return any(path and _PYTHON_EXE.match(os.path.basename(path)) for path in paths)


def classify(proc: ProcessEvidence, evidence: Evidence) -> str:
    """The role of `proc`: one of ROLES."""
    return _classify(proc, evidence, parent_of(proc, evidence))


def classify_all(evidence: Evidence) -> dict[ProcessKey, str]:
    """`classify` for every process, in linear time."""
    parent_map = parents(evidence)
    return {key: _classify(p, evidence, parent_map[key]) for key, p in evidence.processes.items()}


def _classify(proc: ProcessEvidence, evidence: Evidence, parent: ProcessEvidence | None) -> str:
    if evidence.main is not None and proc.key == evidence.main:
        return "main"
    helper = helper_from_cmdline(proc.cmdline)
    # The fork server's children are forks of it: its command line, the server as parent. A
    # "forkserver" read from that shared command line says nothing about the child itself.
    server_child = helper == "forkserver" and parent is not None and parent.cmdline == proc.cmdline
    started_as = None if server_child and proc.started_as == "forkserver" else proc.started_as
    if started_as in _DIRECT:
        return started_as
    name = proc.name or ""
    if _POOL_WORKER_NAME.match(name):
        return "pool-worker"
    if _MANAGER_NAME.match(name):
        return "manager"
    by_stack = helper_from_stack(proc, evidence)
    if by_stack is not None:
        return by_stack
    if helper == "resource-tracker":
        return "resource-tracker"
    if helper == "forkserver":
        if server_child or proc.start_method == "forkserver" or started_as:
            return "forkserver-child"
        return "forkserver"
    if proc.start_method in _BY_METHOD:
        return _BY_METHOD[proc.start_method]
    if helper == "spawn-child":
        return "spawn-child"
    base_name = name.split("-", 1)[0]
    if base_name in _PROCESS_NAME:
        return _PROCESS_NAME[base_name]
    if _is_python(proc, parent):
        # A fork reuses its parent's command line; multiprocessing's fork children and bare
        # os.fork() children alike.
        if started_as == "process" or (
            parent is not None and proc.cmdline and parent.cmdline == proc.cmdline
        ):
            return "fork-child"
        if not proc.cmdline and _unregistered_fork(proc, parent):
            return "fork-child"
        return "python"
    return "non-python"


def _unregistered_fork(proc: ProcessEvidence, parent: ProcessEvidence | None) -> bool:
    """With no command line to compare (it exited before it was sampled, or was sampled only as
    a zombie): a child running its probed parent's program that never registered the probe.
    A Python the parent started with exec (spawn, subprocess) registers as it starts; a fork
    child only at its first event, so one that exits at once never does."""
    return parent is not None and parent.probed and not proc.probed and _same_program(proc, parent)
