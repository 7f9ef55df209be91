"""Which waits of a live tree `mpdoctor inspect` may rely on, and what it cannot see.

* `steady`: a thread counts as waiting only if the look at the end of the interval found it in
  the same wait, so a proof never rests on one moment;
* `mark_outside_holders`: a pipe the tree waits on that a process outside the tree also holds
  (a pool worker's task queue, written by its parent) can be released from there: it is marked
  external, and a wait on it is never proven;
* `visibility_notes`: what ptrace rules and other users' descriptors hid, with the fix.
"""

from __future__ import annotations

import os

from mpdoctor.collect import procfs
from mpdoctor.collect.pipes import holders
from mpdoctor.diagnose.evidence import HangSnapshot, ThreadState
from mpdoctor.diagnose.waitgraph import pipe_at


def _wait_key(t: ThreadState) -> tuple:
    return (t.syscall, t.fd, t.waits_for_pid, t.futex, t.futex_addr, t.readable)


def steady(first: HangSnapshot, last: HangSnapshot) -> None:
    """Keep a thread's wait only if the last look found it in the same wait: a thread that
    changed or ended counts as not blocked (never part of a proof)."""
    for pid, threads in first.threads.items():
        later = {t.tid: t for t in last.threads.get(pid, [])}
        for thread in threads:
            again = later.get(thread.tid)
            if again is None or _wait_key(again) != _wait_key(thread) or not again.blocked:
                thread.blocked = False


def mark_outside_holders(snap: HangSnapshot, tree: set[int]) -> list[int]:
    """A pipe the tree waits on that a process outside the tree also holds (a pool worker's
    task queue, written by its parent) can be released from there: mark it external. Returns
    the pids outside the tree whose descriptors could not be read (their pipes are unknown)."""
    waited = {
        pipe.inode
        for pid, threads in snap.threads.items()
        for thread in threads
        if thread.blocked
        and (pipe := pipe_at(snap, pid, thread.fd)) is not None
        and not pipe.external  # already known to be held outside
    }
    if not waited:
        return []
    me = os.getpid()
    others = [pid for pid in procfs.all_pids() if pid not in tree and pid != me]
    hidden: set[int] = set()
    held = holders(others, hidden, modes=False)  # one readlink per descriptor, no lstat
    for pipe in snap.pipes:
        # unknown holders (hidden descriptors): no pipe the tree waits on can be proven
        if pipe.inode in waited and (hidden or ("pipe", pipe.inode) in held):
            pipe.external = True
    return sorted(hidden)


def visibility_notes(snap: HangSnapshot, live: list[int], hidden_outside: list[int]) -> list[str]:
    """The report's notes on what could not be seen: hidden system calls (with the fix),
    unreadable descriptors, processes that ended while they were read."""
    notes = []
    hidden = sorted(
        pid for pid, threads in snap.threads.items() if any(not t.readable for t in threads)
    )
    if hidden:
        from mpdoctor.collect.pyspy import FIX

        notes.append(
            f"the system calls of {len(hidden)} process(es) are hidden by ptrace rules "
            f"(pids {', '.join(map(str, hidden[:8]))}{', ...' if len(hidden) > 8 else ''}): "
            f"what they wait on is unknown and no hang through them can be proven; {FIX}"
        )
    if snap.unreadable_fds:
        notes.append(
            f"the descriptors of pids {', '.join(map(str, sorted(snap.unreadable_fds)[:8]))} "
            "cannot be read (another user's): their pipes are unknown"
        )
    if hidden_outside:
        notes.append(
            f"{len(hidden_outside)} process(es) outside the tree hide their descriptors: a "
            "pipe the tree waits on might be held there, so no pipe wait is proven"
        )
    gone = [pid for pid in live if pid not in snap.threads]
    if gone:
        notes.append(f"{len(gone)} process(es) ended while they were being read")
    return notes
