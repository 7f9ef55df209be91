"""Waits that can never end, proven from a HangSnapshot (pure).

"Proven" means every thread that could release the wait is itself in an untimed wait inside
the cycle: a timed wait, a sleeping or running thread, or a thread whose system call ptrace
rules hid never qualifies.

* `join_before_drain`: a process waits in wait4() (join) for a child; a thread of the child is
  blocked writing into a pipe; every reader of that pipe is the joiner or the child, and every
  thread of theirs waits untimed. (multiprocessing's Queue: the child's feeder thread cannot
  flush, so the child cannot exit, so join() never returns.)
* `orphaned_reads`: a thread blocked reading a pipe whose only writers are its own process, all
  of whose threads wait untimed (Queue.get() after the producer died: the reader holds the
  only write end left).

Groundwork for the hang issue: the rules that turn these into findings come with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mpdoctor.diagnose.evidence import HangSnapshot, PipeState, ThreadState


@dataclass(frozen=True)
class JoinCycle:
    joiner: int  # pid waiting in join()
    child: int  # pid it waits for
    writer_tid: int  # the child's thread stuck writing
    pipe: int  # inode of the full pipe
    queued: int | None


@dataclass(frozen=True)
class OrphanedRead:
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


def all_wait_untimed(snapshot: HangSnapshot, pid: int) -> bool:
    threads = snapshot.threads.get(pid)
    return bool(threads) and all(t.readable and t.waits_untimed for t in threads)


def join_before_drain(
    snapshot: HangSnapshot, joins: dict[tuple[int, int], int] | None = None
) -> list[JoinCycle]:
    """`joins`: (pid, tid) -> the child that thread is joining, where the stack and the probe
    tell it (under the fork server a join waits in read() on a status pipe, not in wait4)."""
    cycles = []
    for joiner, threads in snapshot.threads.items():
        for thread in threads:
            child = _joined_child(thread, snapshot, (joins or {}).get((joiner, thread.tid)))
            if child is None:
                continue
            for writer in snapshot.threads[child]:
                if writer.syscall != "write" or not writer.waits_untimed:
                    continue
                pipe = pipe_at(snapshot, child, writer.fd)
                if pipe is None or (child, writer.fd) not in pipe.writers:
                    continue
                readers = {pid for pid, _ in pipe.readers}
                inside = readers <= {joiner, child}
                if readers and inside and all(all_wait_untimed(snapshot, p) for p in readers):
                    cycles.append(JoinCycle(joiner, child, writer.tid, pipe.inode, pipe.queued))
    return cycles


def _joined_child(thread: ThreadState, snapshot: HangSnapshot, joining: int | None) -> int | None:
    if thread.syscall in ("wait4", "waitid") and thread.timed is False:
        child = thread.waits_for_pid
    elif joining is not None and thread.waits_untimed and thread.syscall in ("read", "poll"):
        child = joining
    else:
        return None
    return child if child is not None and child > 0 and child in snapshot.threads else None


def orphaned_reads(snapshot: HangSnapshot) -> list[OrphanedRead]:
    found = []
    for pid, threads in snapshot.threads.items():
        for thread in threads:
            if thread.syscall != "read" or not thread.waits_untimed:
                continue
            pipe = pipe_at(snapshot, pid, thread.fd)
            if pipe is None or (pid, thread.fd) not in pipe.readers:
                continue
            writers = {p for p, _ in pipe.writers}
            if writers <= {pid} and all_wait_untimed(snapshot, pid):
                found.append(OrphanedRead(pid, thread.tid, pipe.inode))
    return found
