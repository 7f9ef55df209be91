"""How the hang rules word a thread's wait: "waits in join() for pid 123 [Process-2]"."""

from __future__ import annotations

from mpdoctor.diagnose.evidence import Evidence, HangSnapshot, ThreadState
from mpdoctor.diagnose.family import label
from mpdoctor.diagnose.hangs import Blocked, blocked, live_process
from mpdoctor.diagnose.tracebacks import short_path
from mpdoctor.diagnose.waitgraph import pipe_at
from mpdoctor.diagnose.wording import human_bytes, where

# The Python call a wait is in, from the innermost frame that names it (module, functions).
_CALLS = (
    ("multiprocessing/process.py", {"join"}, "join()"),
    ("multiprocessing/queues.py", {"get"}, "Queue.get()"),
    ("multiprocessing/queues.py", {"_feed"}, "a Queue's feeder"),
    ("multiprocessing/queues.py", {"_finalize_join"}, "the Queue's exit join"),
    ("multiprocessing/pool.py", {"get", "wait", "map", "starmap", "next"}, "a Pool result"),
    ("multiprocessing/connection.py", {"recv", "recv_bytes"}, "Connection.recv()"),
    ("multiprocessing/connection.py", {"send", "send_bytes"}, "Connection.send()"),
    ("concurrent/futures/_base.py", {"result", "wait", "as_completed"}, "a Future"),
    ("threading.py", {"join"}, "Thread.join()"),
    ("threading.py", {"wait"}, "an Event/Condition"),
    ("threading.py", {"acquire", "__enter__"}, "a lock"),
)


def call_name(thread: Blocked) -> str | None:
    """The first call of _CALLS (most specific first) found anywhere on the stack."""
    for module, functions, name in _CALLS:
        if thread.runs(module, functions):
            return name
    return None


def syscall_text(pid: int, state: ThreadState, snap: HangSnapshot, evidence: Evidence) -> str:
    """The system call, decoded: "wait4 for Process-1 (pid 13)", "write on fd 5 (pipe 4711,
    64.0 KiB queued)", "futex (wait private)"."""
    if not state.readable:
        return "its system call is hidden (ptrace rules)"
    name = state.syscall or "no system call"
    if state.waits_for_pid is not None and state.waits_for_pid > 0:
        child = live_process(evidence, state.waits_for_pid)
        who = label(child) if child else f"pid {state.waits_for_pid}"
        return f"{name} for {who}"
    if state.fd is not None:
        pipe = pipe_at(snap, pid, state.fd)
        if pipe is not None:
            queued = f", {human_bytes(pipe.queued)} queued" if pipe.queued is not None else ""
            return f"{name} on fd {state.fd} (pipe {pipe.inode}{queued})"
        return f"{name} on fd {state.fd}"
    if state.futex:
        return f"futex ({state.futex})"
    return name + (" (timed)" if state.timed else "")


def thread_label(thread: Blocked) -> str:
    name = thread.stack.name if thread.stack and thread.stack.name else None
    return name or f"thread {thread.thread.tid}"


def wait_line(thread: Blocked, snap: HangSnapshot, evidence: Evidence) -> str:
    """ "pid 12 MainThread: join() at app.py:14, in wait4 for Process-1 (pid 13)"."""
    call = call_name(thread)
    frame = thread.user_frame
    at = f" at {where(frame)}" if frame else ""
    text = f"pid {thread.pid} {thread_label(thread)}: "
    text += f"{call}{at}, in " if call else (f"at {where(frame)}, in " if frame else "")
    return text + syscall_text(thread.pid, thread.thread, snap, evidence)


def process_lines(snap: HangSnapshot, evidence: Evidence, pids: list[int]) -> list[str]:
    lines = []
    for pid in pids:
        for state in snap.threads.get(pid, []):
            lines.append(wait_line(blocked(snap, pid, state), snap, evidence))
        if pid in snap.stacks_skipped:
            lines.append(f"pid {pid}: no Python stack ({snap.stacks_skipped[pid]})")
    return lines


def frame_text(frames) -> str:
    return " <- ".join(f"{f.function} ({short_path(f.file)}:{f.line})" for f in frames[:4])
