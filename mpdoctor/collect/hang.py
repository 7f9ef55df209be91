"""A snapshot of what a stalled tree waits on: every thread's wait, every pipe's holders and,
when asked, every thread's Python stack (collect/stacks.py).

The monitor takes the cheap part (/proc only) while the tree is quiet, to find a proven wait
early, and the whole of it when it reports (no progress for --hang-after, a proven deadlock that
held, the timeout). Pure data for `diagnose/waitgraph.py` and the hang rules.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from mpdoctor.collect.pipes import End, bytes_queued, end_at, holders, with_modes
from mpdoctor.collect.waits import mapped_objects, mapping_of, read_threads
from mpdoctor.diagnose.evidence import HangSnapshot, PipeState, ThreadStack, ThreadState

if TYPE_CHECKING:
    from mpdoctor.collect.events import ProcessEvents


def snapshot(
    pids: list[int],
    t_s: float = 0.0,
    pipes: bool = True,
    *,
    outside: Iterable[int] = (),
    lonely_for: Collection[int] | None = None,
) -> HangSnapshot:
    """Threads of `pids` and (`pipes`) the pipes they hold (a pid that is gone is left out).
    Without pipes it is the monitor's cheap look: a few small reads per thread.

    `outside`: processes outside the tree that may hold the other end of a pipe the tree
    waits on (the root's ancestors), read first; mpdoctor's own process always is.
    `lonely_for`: the processes whose pipes held by nobody else a rule may read (a loop that
    polls a queue after its producer ended: those with an ended child); None: every one."""
    threads: dict[int, list[ThreadState]] = {}
    for pid in pids:
        waits = read_threads(pid, full=pipes)
        if waits:
            threads[pid] = [
                ThreadState(
                    tid=w.tid,
                    state=w.state,
                    syscall=w.syscall,
                    readable=w.readable,
                    fd=w.fd,
                    waits_for_pid=w.waits_for_pid,
                    futex=w.futex,
                    futex_addr=w.futex_addr,
                    timed=w.timed,
                    blocked=w.blocked,
                )
                for w in waits
            ]
    snap = HangSnapshot(t_s=t_s, threads=threads)
    if pipes:
        snap.pipes = _pipes(list(threads), snap.unreadable_fds, threads, outside, lonely_for)
        snap.catches = {pid: caught_signals(pid) for pid in threads}
        _shared_futexes(snap)
    return snap


def _shared_futexes(snap: HangSnapshot) -> None:
    """For each thread waiting on a shared futex (a multiprocessing Lock, Semaphore, Event...):
    the object it lives in, and every process of the tree that maps that object."""
    objects = set()
    for pid, threads in snap.threads.items():
        for thread in threads:
            if thread.futex and thread.futex.endswith("shared") and thread.futex_addr:
                thread.futex_mapping = mapping_of(pid, thread.futex_addr)
                if thread.futex_mapping:
                    objects.add(thread.futex_mapping)
    if not objects:
        return
    snap.sharers = {obj: set() for obj in objects}
    for pid in snap.threads:
        for obj in mapped_objects(pid) & objects:
            snap.sharers[obj].add(pid)


def _pipes(
    pids: list[int],
    unreadable: set[int],
    threads: dict[int, list[ThreadState]],
    outside: Iterable[int] = (),
    lonely_for: Collection[int] | None = None,
) -> list[PipeState]:
    """The pipes a rule can read: one some thread is on (its system call names the
    descriptor), or one whose every end is in a single process of `lonely_for` (a polling
    loop's own queue).

    Reading every descriptor of the tree is what costs (a forked tree holds its siblings'
    pipes: 16,000 descriptors in 128 processes, one readlink each), so it happens only when
    a rule needs it: the pipes the threads are on are read first, then looked for outside the
    tree; a pipe held outside can be written or read from there (never proven), and when every
    one is and no process can poll a lonely queue, the tree's tables are not read at all."""
    named = sorted(
        {(pid, t.fd) for pid, states in threads.items() for t in states if t.fd is not None}
    )
    on = [end for pid, fd in named if (end := end_at(pid, fd)) is not None]
    lonely = set(pids) if lonely_for is None else set(pids) & set(lonely_for)
    if not on and not lonely:
        return []
    # The monitor holds what the program inherited from it (stdin, stdout, stderr): a pipe to
    # or from the world outside the tree, whose other end no snapshot can see.
    outer = [os.getpid(), *(pid for pid in outside if pid not in pids)]
    held_outside = holders(outer, modes=False)
    if not lonely and all(("pipe", end.inode) in held_outside for end in on):
        return [_external(inode, on) for inode in sorted({end.inode for end in on})]
    pipes = []
    table = holders(pids, unreadable, modes=False)
    named_set = set(named)
    for (kind, inode), held in table.items():
        if kind != "pipe":
            continue
        in_one = len({e.pid for e in held}) == 1 and held[0].pid in lonely
        if not in_one and not any((e.pid, e.fd) in named_set for e in held):
            continue
        inside = with_modes(held)
        reader = next((e for e in inside if e.mode == "r"), None)
        pipes.append(
            PipeState(
                inode=inode,
                readers=sorted({(e.pid, e.fd) for e in inside if e.mode == "r"}),
                writers=sorted({(e.pid, e.fd) for e in inside if e.mode == "w"}),
                queued=bytes_queued(reader) if reader is not None else None,
                external=("pipe", inode) in held_outside,
            )
        )
    return pipes


def _external(inode: int, on: list[End]) -> PipeState:
    """A pipe also held outside the tree, known by the ends the tree's threads are on only."""
    ends = [e for e in on if e.inode == inode]
    reader = next((e for e in ends if e.mode == "r"), None)
    return PipeState(
        inode=inode,
        readers=sorted((e.pid, e.fd) for e in ends if e.mode == "r"),
        writers=sorted((e.pid, e.fd) for e in ends if e.mode == "w"),
        queued=bytes_queued(reader) if reader is not None else None,
        external=True,
    )


def caught_signals(pid: int) -> list[int]:
    """The signals `pid` has handlers for (SigCgt); empty when unreadable."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"SigCgt:"):
                    mask = int(line.split()[1], 16)
                    return [n for n in range(1, 65) if mask >> (n - 1) & 1]
    except (OSError, ValueError, IndexError):
        pass
    return []


def add_stacks(
    snap: HangSnapshot,
    session_path: Path,
    only: list[int] | None = None,
    events: list[ProcessEvents] | None = None,
) -> None:
    """Dump the Python stacks of every process of `snap` (of `only`, when given) that armed
    the stack signal; `events`: the session's probe files when the caller has read them."""
    from mpdoctor.collect.events import read_events
    from mpdoctor.collect.stacks import take_stacks, targets_from, thread_names

    wanted = set(snap.threads) if only is None else set(only) & set(snap.threads)
    if events is None:
        events = read_events(session_path / "events")
    streams = {s.pid: s for s in events if s.pid in wanted}
    targets, refused = targets_from(list(streams.values()), session_path / "stacks")
    result = take_stacks(targets, session_path / "stacks")
    snap.stacks_skipped = {**refused, **result.skipped}
    for pid, threads in result.stacks.items():
        # each dump is one signalled thread's own: its native id names it
        by_tid = {tid: (ident, name) for ident, (tid, name) in thread_names(streams[pid]).items()}
        snap.stacks[pid] = []
        for t in threads:
            ident, name = by_tid.get(t.tid, (t.ident, None))
            snap.stacks[pid].append(
                ThreadStack(ident=ident, tid=t.tid, name=name, current=t.current, frames=t.frames)
            )
    snap.sources = sources_of(snap)
    for pid in wanted:
        if pid not in snap.stacks and pid not in snap.stacks_skipped:
            snap.stacks_skipped[pid] = "not a probed Python process"


def sources_of(snap: HangSnapshot) -> dict[tuple[str, int], str]:
    """The program's lines around the innermost frame of the program's own in each stack (the
    rules read a polling loop's condition from them)."""
    import linecache

    from mpdoctor.diagnose.tracebacks import user_frame

    sources: dict[tuple[str, int], str] = {}
    for threads in snap.stacks.values():
        for thread in threads:
            frame = user_frame(list(reversed(thread.frames)))
            if frame is None:
                continue
            for number in range(max(1, frame.line - 3), frame.line + 1):
                sources[(frame.file, number)] = linecache.getline(frame.file, number).strip()
    return sources
