"""Waits that can never end, proven from a HangSnapshot (pure).

"Proven" means every thread that could release the wait is itself in such a wait. `stuck`
computes that set as a greatest fixed point: it starts from every thread blocked, without a
timeout, in one of the waits below, and drops any thread that something outside the set could
release, until nothing changes.

* read on a pipe: released by a writer. Its writers must all be visible (no end outside the
  tree, no process whose descriptors are hidden), and every thread of every writer stuck. A
  pipe with no writer at all returns EOF: never stuck.
* write on a pipe: released by a reader; likewise.
* wait4/waitid on a child (or a join the probe tied to a child): released when the child
  exits; it cannot while all its threads are stuck.
* a private futex (a lock or condition of the process's own memory): released by another thread
  of the same process.
* a shared futex (a multiprocessing Lock, Semaphore, Event): released by any thread of any
  process of the tree that maps the object it lives in (/proc/PID/maps; a process outside the
  tree mapping it is not seen: the monitor's tree is the program's).

Everything else ends the proof for that thread: a timed wait, a sleep, a running thread, a
socket, poll/select/epoll, a shared futex in an object we could not find, a system call
ptrace rules hid. So does a process that handles signals other than SIGINT, the stack signal
and the fatal ones: a handler may end any wait. `inert` threads count as stuck whatever they
do: Pool's worker handler only replaces workers, it never delivers a task or a result.

* `join_before_drain`: a process waits in join() for a child; a thread of the child is stuck
  writing into a pipe the joiner reads (multiprocessing's Queue: the child's feeder thread
  cannot flush, so the child cannot exit, so join() never returns), or reading a pipe the
  joiner writes (a Pipe(duplex=False) or Queue the parent sends on only after the join).
* `orphaned_reads`: a thread stuck reading a pipe whose only writers are its own process
  (Queue.get() after the producer died: the reader holds the only write end left).
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

from mpdoctor.diagnose.evidence import HangSnapshot, PipeState, ThreadState

Thread = tuple[int, int]  # (pid, tid)

# Handlers that never end a wait of the program's: Ctrl-C's (the user ends the program), the
# fatal synchronous signals (faulthandler.enable, pytest), broken pipes, and the real-time
# signals glibc keeps for its threads (32 and 33: thread cancellation, setxid).
_HARMLESS = {
    *range(32, getattr(signal, "SIGRTMIN", 32)),
    signal.SIGINT,
    signal.SIGSEGV,
    signal.SIGFPE,
    signal.SIGABRT,
    signal.SIGBUS,
    signal.SIGILL,
    signal.SIGPIPE,
    getattr(signal, "SIGSYS", 31),
    getattr(signal, "SIGTRAP", 5),
}


@dataclass(frozen=True)
class JoinCycle:
    """A join that cannot end: the child is stuck writing into a full pipe only the joiner reads,
    or (`reads`) reading a pipe that nothing but the joiner would write to."""

    joiner: int  # pid waiting in join()
    child: int  # pid it waits for
    writer_tid: int  # the child's thread stuck on the pipe
    pipe: int  # inode of the pipe
    queued: int | None
    reads: bool = False  # the child's thread waits to read what the joiner would send


@dataclass(frozen=True)
class OrphanedRead:
    """A read on a pipe whose every writer has gone."""

    pid: int
    tid: int
    pipe: int


def pipe_at(snapshot: HangSnapshot, pid: int, fd: int | None) -> PipeState | None:
    if fd is None:
        return None
    for pipe in snapshot.pipes:
        if (pid, fd) in pipe.readers or (pid, fd) in pipe.writers:
            return pipe
    return None


def waited_child(
    thread: ThreadState, pid: int, joins: dict[Thread, int] | None = None
) -> int | None:
    """The child an untimed wait4 / join of this thread waits for."""
    if thread.syscall in ("wait4", "waitid") and thread.timed is False:
        child = thread.waits_for_pid
        return child if child is not None and child > 0 else None
    joining = (joins or {}).get((pid, thread.tid))
    if joining is not None and thread.syscall in ("read", "poll", "ppoll"):
        return joining  # a fork-server join: a read or poll on the child's status pipe
    return None


def stuck(
    snapshot: HangSnapshot,
    joins: dict[Thread, int] | None = None,
    inert: set[Thread] | None = None,
) -> set[Thread]:
    """Every thread whose wait can never end (see the module's docstring)."""
    inert = inert or set()
    waits: dict[Thread, tuple[str, object]] = {}
    for pid, threads in snapshot.threads.items():
        if _handles_signals(snapshot, pid):
            continue
        for thread in threads:
            key = (pid, thread.tid)
            if key in inert:
                waits[key] = ("inert", None)
            elif thread.readable and thread.waits_untimed:
                wait = _wait_of(snapshot, pid, thread, joins)
                if wait is not None:
                    waits[key] = wait
    members = set(waits)
    changed = True
    while changed:
        changed = False
        for key in list(members):
            if not _still_stuck(snapshot, key, waits[key], members):
                members.discard(key)
                changed = True
    return members


def _wait_of(snapshot, pid, thread, joins) -> tuple[str, object] | None:
    child = waited_child(thread, pid, joins)
    if child is not None:
        return ("child", child)
    if thread.syscall in ("read", "readv", "write", "writev"):
        pipe = pipe_at(snapshot, pid, thread.fd)
        if pipe is None or pipe.external:
            return None
        return ("pipe-read" if thread.syscall.startswith("read") else "pipe-write", pipe)
    if thread.syscall == "futex" and (thread.futex or "").endswith("private"):
        return ("futex", None)
    if thread.syscall == "futex" and thread.futex_mapping in snapshot.sharers:
        return ("futex-shared", thread.futex_mapping)
    return None


def _still_stuck(snapshot, key: Thread, wait, members: set[Thread]) -> bool:
    pid, _tid = key
    kind, what = wait
    if kind == "inert":
        return True
    if kind == "child":
        return _all_stuck(snapshot, what, members)
    if kind == "futex":
        return all((pid, t.tid) in members for t in snapshot.threads[pid])
    if kind == "futex-shared":  # any thread of any process mapping the object may release it
        return all(_all_stuck(snapshot, p, members) for p in snapshot.sharers[what])
    pipe: PipeState = what
    others = pipe.writers if kind == "pipe-read" else pipe.readers
    holders = {p for p, _fd in others}
    if not holders or holders & snapshot.unreadable_fds:
        return False
    return all(_all_stuck(snapshot, p, members) for p in holders)


def _all_stuck(snapshot: HangSnapshot, pid: int, members: set[Thread]) -> bool:
    threads = snapshot.threads.get(pid)
    return bool(threads) and all((pid, t.tid) in members for t in threads)


def _handles_signals(snapshot: HangSnapshot, pid: int) -> bool:
    harmless = _HARMLESS | ({snapshot.stack_signal} if snapshot.stack_signal else set())
    return any(sig not in harmless for sig in snapshot.catches.get(pid, ()))


def join_before_drain(
    snapshot: HangSnapshot, members: set[Thread], joins: dict[Thread, int] | None = None
) -> list[JoinCycle]:
    cycles = []
    for joiner, threads in snapshot.threads.items():
        for thread in threads:
            child = waited_child(thread, joiner, joins)
            if child is None or (joiner, thread.tid) not in members:
                continue
            for other in snapshot.threads.get(child, []):
                reads = other.syscall in ("read", "readv")
                if not reads and other.syscall not in ("write", "writev"):
                    continue
                pipe = pipe_at(snapshot, child, other.fd)
                if pipe is None or (child, other.tid) not in members:
                    continue
                peers = pipe.writers if reads else pipe.readers
                if joiner in {p for p, _fd in peers}:
                    cycles.append(
                        JoinCycle(joiner, child, other.tid, pipe.inode, pipe.queued, reads)
                    )
    return cycles


def orphaned_reads(snapshot: HangSnapshot, members: set[Thread]) -> list[OrphanedRead]:
    found = []
    for pid, threads in snapshot.threads.items():
        for thread in threads:
            if thread.syscall not in ("read", "readv") or (pid, thread.tid) not in members:
                continue
            pipe = pipe_at(snapshot, pid, thread.fd)
            if pipe is not None and {p for p, _fd in pipe.writers} == {pid}:
                found.append(OrphanedRead(pid, thread.tid, pipe.inode))
    return found
