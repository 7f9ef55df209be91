"""A snapshot of what a stalled tree waits on: every thread's wait, every pipe's holders and,
when asked, every thread's Python stack (collect/stacks.py).

The monitor takes the cheap part (/proc only) while the tree is quiet, to find a proven wait
early, and the whole of it when it reports (no progress for --hang-after, a proven deadlock that
held, the timeout). Pure data for `diagnose/waitgraph.py` and the hang rules.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from mpdoctor.collect.pipes import bytes_queued, holders, with_modes
from mpdoctor.collect.waits import mapped_objects, mapping_of, read_threads
from mpdoctor.diagnose.evidence import HangSnapshot, PipeState, ThreadStack, ThreadState

if TYPE_CHECKING:
    from mpdoctor.collect.events import ProcessEvents


def snapshot(pids: list[int], t_s: float = 0.0, pipes: bool = True) -> HangSnapshot:
    """Threads of `pids` and (`pipes`) the pipes they hold (a pid that is gone is left out).
    Without pipes it is the monitor's cheap look: a few small reads per thread."""
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
        snap.pipes = _pipes(list(threads), snap.unreadable_fds, threads)
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
    pids: list[int], unreadable: set[int], threads: dict[int, list[ThreadState]]
) -> list[PipeState]:
    """The pipes a rule can read: one some thread is on (its system call names the
    descriptor), or one whose every end is in a single process (a polling loop's own queue).
    The others (a forked tree holds its siblings' pipes: 16,000 descriptors in 128 processes)
    cost only the readlink that finds their holders: no mode, no queued bytes."""
    # The monitor holds what the program inherited from it (stdin, stdout, stderr): a pipe to
    # or from the world outside the tree, whose other end no snapshot can see.
    monitor = os.getpid()
    named = {(pid, t.fd) for pid, states in threads.items() for t in states if t.fd is not None}
    pipes = []
    for (kind, inode), found in holders([*pids, monitor], unreadable, modes=False).items():
        if kind != "pipe":
            continue
        held = [e for e in found if e.pid != monitor]
        if not any((e.pid, e.fd) in named for e in held) and len({e.pid for e in held}) != 1:
            continue
        ends = with_modes(found)
        inside = [e for e in ends if e.pid != monitor]
        reader = next((e for e in inside if e.mode == "r"), None)
        pipes.append(
            PipeState(
                inode=inode,
                readers=sorted({(e.pid, e.fd) for e in inside if e.mode == "r"}),
                writers=sorted({(e.pid, e.fd) for e in inside if e.mode == "w"}),
                queued=bytes_queued(reader) if reader is not None else None,
                external=len(inside) < len(ends),
            )
        )
    return pipes


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
        names = thread_names(streams[pid])
        snap.stacks[pid] = [
            ThreadStack(
                ident=t.ident,
                tid=names.get(t.ident, (None, None))[0],
                name=names.get(t.ident, (None, None))[1],
                current=t.current,
                frames=t.frames,
            )
            for t in threads
        ]
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
