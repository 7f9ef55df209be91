"""Python stacks of processes that did not register the probe, through py-spy (an optional
extra: `pip install 'mpdoctor[stacks]'`), and why ptrace may not be allowed.

py-spy reads another process's memory through ptrace's access rules (process_vm_readv). It is
run with `--nonblocking`: the target is never stopped nor sent anything, so a running thread
may show a torn stack, never a crashed process. Each process gets its own `py-spy dump --pid`,
all of them at once, each bounded by a timeout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field

from mpdoctor.collect.procfs import PROC
from mpdoctor.diagnose.evidence import ThreadStack
from mpdoctor.model import Frame

TIMEOUT_S = 5.0
_CAP_SYS_PTRACE = 19
FIX = (
    "run mpdoctor as the same user or as root with CAP_SYS_PTRACE "
    "(docker: --cap-add SYS_PTRACE), or set kernel.yama.ptrace_scope to 0 "
    "(sysctl -w kernel.yama.ptrace_scope=0)"
)


@dataclass
class PySpyResult:
    """The stacks py-spy gave, and why the other processes have none."""

    stacks: dict[int, list[ThreadStack]] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)  # pid -> why no stack
    elapsed_s: float = 0.0


def executable() -> str | None:
    """py-spy on PATH, else beside the running interpreter (a venv's bin)."""
    found = shutil.which("py-spy")
    if found:
        return found
    import sys

    candidate = os.path.join(os.path.dirname(sys.executable), "py-spy")
    return candidate if os.access(candidate, os.X_OK) else None


def ptrace_scope() -> int | None:
    """Yama's kernel.yama.ptrace_scope (0 classic, 1 descendants only, 2 admin, 3 none);
    None without Yama."""
    try:
        with open(f"{PROC}/sys/kernel/yama/ptrace_scope", "rb") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def has_cap_sys_ptrace() -> bool:
    try:
        with open(f"{PROC}/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"CapEff:"):
                    return bool(int(line.split()[1], 16) >> _CAP_SYS_PTRACE & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


def ptrace_refusal(pid: int) -> str | None:
    """Why this process may not be read through ptrace by us, or None when it may (as far as
    /proc tells: a seccomp profile can still refuse, which py-spy then reports)."""
    privileged = has_cap_sys_ptrace()
    try:
        owner = os.stat(f"{PROC}/{pid}").st_uid
    except OSError:
        return "gone"
    if owner != os.geteuid() and not privileged:
        return f"it belongs to another user (uid {owner})"
    scope = ptrace_scope()
    if scope == 3:
        return "kernel.yama.ptrace_scope is 3: no process may be traced"
    if scope == 2 and not privileged:
        return "kernel.yama.ptrace_scope is 2: only CAP_SYS_PTRACE may trace"
    if scope == 1 and not privileged and not _is_descendant(pid, os.getpid()):
        return "kernel.yama.ptrace_scope is 1: only a process's ancestors may trace it"
    return None


def _is_descendant(pid: int, ancestor: int) -> bool:
    from mpdoctor.collect.procfs import read_stat

    seen = 0
    while pid > 1 and seen < 1000:
        stat = read_stat(pid)
        if stat is None:
            return False
        if stat.ppid == ancestor:
            return True
        pid, seen = stat.ppid, seen + 1
    return False


def dump(pids: list[int], exe: str, timeout_s: float = TIMEOUT_S) -> PySpyResult:
    """`py-spy dump --nonblocking --json --pid P` for every pid at once."""
    t0 = time.monotonic()
    result = PySpyResult()
    running: dict[int, subprocess.Popen[bytes]] = {}
    for pid in pids:
        why = ptrace_refusal(pid)
        if why is not None:
            result.skipped[pid] = f"py-spy cannot read it: {why}"
            continue
        try:
            running[pid] = subprocess.Popen(
                [exe, "dump", "--nonblocking", "--json", "--pid", str(pid)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            result.skipped[pid] = f"py-spy could not be started ({exc.strerror})"
    deadline = t0 + timeout_s
    for pid, proc in running.items():
        try:
            out, err = proc.communicate(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            result.skipped[pid] = f"py-spy gave no answer within {timeout_s:g} s"
            continue
        if proc.returncode != 0:
            result.skipped[pid] = "py-spy: " + _first_line(err)
            continue
        threads = parse_json(out)
        if threads:
            result.stacks[pid] = threads
        else:
            result.skipped[pid] = "py-spy found no Python thread"
    result.elapsed_s = time.monotonic() - t0
    return result


def _first_line(err: bytes) -> str:
    text = err.decode("utf-8", "replace").strip()
    line = text.splitlines()[0] if text else "failed"
    line = line.removeprefix("Error: ")
    if "ermission" in line or "ptrace" in line.lower():
        line += f" ({FIX})"
    return line


def parse_json(data: bytes | str) -> list[ThreadStack]:
    """py-spy's JSON (a list of threads, frames innermost first) as ThreadStacks.

    py-spy 0.4 names a frame by its qualified name ("BaseProcess.join", "outer.<locals>.f"),
    faulthandler by the code's name ("join"): the rules read the latter, so only the last
    part is kept."""
    try:
        threads = json.loads(data)
    except ValueError:
        return []
    found = []
    for thread in threads if isinstance(threads, list) else []:
        if not isinstance(thread, dict):
            continue
        frames = [
            Frame(str(f.get("filename", "?")), int(f.get("line") or 0), _code_name(f.get("name")))
            for f in thread.get("frames") or []
            if isinstance(f, dict)
        ]
        found.append(
            ThreadStack(
                ident=int(thread.get("thread_id") or 0),
                tid=thread.get("os_thread_id"),
                name=thread.get("thread_name"),
                current=False,
                frames=frames,
            )
        )
    return found


def _code_name(qualname: object) -> str:
    """The code's name of a qualified one: Pool._handle_results -> _handle_results,
    f.<locals>.<lambda> -> <lambda>, <module> unchanged."""
    if not isinstance(qualname, str) or not qualname:
        return "?"
    return qualname.rsplit(".", 1)[-1] or qualname
