"""A snapshot of what a stalled tree waits on: every thread's wait and every pipe's holders.

Taken when the tree has made no progress for a while (the hang issue wires it into the
monitor); pure data for the rules in `diagnose/waitgraph.py`. Groundwork: `mpdoctor run` does
not take it yet.
"""

from __future__ import annotations

from mpdoctor.collect.pipes import bytes_queued, holders
from mpdoctor.collect.waits import read_threads
from mpdoctor.diagnose.evidence import HangSnapshot, PipeState, ThreadState


def snapshot(pids: list[int], t_s: float = 0.0) -> HangSnapshot:
    """Threads of `pids` and the pipes they hold (a pid that is gone is left out)."""
    threads: dict[int, list[ThreadState]] = {}
    for pid in pids:
        waits = read_threads(pid)
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
                    timed=w.timed,
                    blocked=w.blocked,
                )
                for w in waits
            ]
    pipes = []
    for (kind, inode), ends in holders(list(threads)).items():
        if kind != "pipe":
            continue
        reader = next((e for e in ends if e.mode == "r"), None)
        pipes.append(
            PipeState(
                inode=inode,
                readers=sorted({(e.pid, e.fd) for e in ends if e.mode == "r"}),
                writers=sorted({(e.pid, e.fd) for e in ends if e.mode == "w"}),
                queued=bytes_queued(reader) if reader is not None else None,
            )
        )
    return HangSnapshot(t_s=t_s, threads=threads, pipes=pipes)
