"""Waits that can never end, proven from the hang snapshot and the run's evidence (pure).

"Proven" means every thread that could release the wait is itself in an untimed wait inside
the cycle: a timed wait, a sleeping or running thread, a thread whose system call ptrace rules
hid, or a process without a readable /proc never qualifies. The one piece of knowledge added
is multiprocessing's own: Pool's worker-handler thread wakes every 0.1 s only to replace dead
workers, so it can never deliver a result.

Each function returns what it proved; the rules (`rules/join_deadlock.py`, ...) word it, and
the monitor stops the program when any of them holds for about a second (`proven_hangs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mpdoctor.diagnose.evidence import (
    Evidence,
    HangSnapshot,
    PoolEvidence,
    ProcessEvidence,
    ThreadStack,
    ThreadState,
)
from mpdoctor.diagnose.tracebacks import is_library, user_frame
from mpdoctor.diagnose.waitgraph import JoinCycle, OrphanedRead, join_before_drain, orphaned_reads
from mpdoctor.model import Frame

_POOL_WAITS = {"get", "wait", "map", "starmap", "next", "__next__"}


@dataclass(frozen=True)
class Blocked:
    """A thread in an untimed wait, with its stack when the probe could dump it."""

    pid: int
    thread: ThreadState
    stack: ThreadStack | None

    @property
    def frames(self) -> list[Frame]:
        return self.stack.frames if self.stack else []  # innermost first

    @property
    def user_frame(self) -> Frame | None:
        """The innermost frame of the program's own code (None for a library thread). The
        `python -c` that multiprocessing starts a spawn child or the fork server with is not
        the program's."""
        frames = self.frames
        if len(frames) > 1 and frames[-1].file == "<string>" and _starts_child(frames[-2]):
            frames = frames[:-1]
        frame = user_frame(list(reversed(frames))) if frames else None
        return frame if frame is not None and not is_library(frame.file) else None

    def runs(self, module: str, functions: set[str]) -> bool:
        """Some frame of its stack is in `module` (a path suffix) and one of `functions`."""
        return any(f.file.endswith(module) and f.function in functions for f in self.frames)


def _starts_child(frame: Frame) -> bool:
    return frame.file.endswith(("multiprocessing/spawn.py", "multiprocessing/forkserver.py"))


@dataclass(frozen=True)
class PoolWait:
    """A pool's owner waits for results the pool can never deliver."""

    kind: str  # terminated | lost-task | no-result-handler
    waiter: Blocked
    pool: PoolEvidence
    dead: list[ProcessEvidence] = field(default_factory=list)  # workers that died (lost-task)


@dataclass(frozen=True)
class ForkedLock:
    """A forked child's only thread waits on a private lock nobody in it can release."""

    child: ProcessEvidence
    waiter: Blocked


@dataclass
class ProvenHangs:
    joins: list[JoinCycle] = field(default_factory=list)
    orphaned: list[OrphanedRead] = field(default_factory=list)
    pools: list[PoolWait] = field(default_factory=list)
    forked_locks: list[ForkedLock] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.joins or self.orphaned or self.pools or self.forked_locks)

    def pids(self) -> set[int]:
        pids = {c.joiner for c in self.joins} | {c.child for c in self.joins}
        pids |= {o.pid for o in self.orphaned} | {p.waiter.pid for p in self.pools}
        return pids | {f.child.key.pid for f in self.forked_locks}


def proven_hangs(evidence: Evidence) -> ProvenHangs:
    snap = evidence.hang
    if snap is None:
        return ProvenHangs()
    return ProvenHangs(
        joins=join_before_drain(snap, current_joins(snap, evidence)),
        orphaned=orphaned_reads(snap),
        pools=pool_waits(snap, evidence),
        forked_locks=forked_locks(snap, evidence),
    )


def current_joins(snap: HangSnapshot, evidence: Evidence) -> dict[tuple[int, int], int]:
    """(pid, tid) -> the child a thread is joining: its stack is in join(), and the probe
    recorded that thread's last join() call."""
    joins = {}
    for pid, stacks in snap.stacks.items():
        proc = live_process(evidence, pid)
        if proc is None or not proc.joins:
            continue
        for stack in stacks:
            if stack.tid is None or not any(
                f.file.endswith("multiprocessing/process.py") and f.function == "join"
                for f in stack.frames
            ):
                continue
            last = [j for j in proc.joins if j.ident == stack.ident]
            if last:
                joins[(pid, stack.tid)] = last[-1].child
    return joins


def blocked(snap: HangSnapshot, pid: int, thread: ThreadState) -> Blocked:
    return Blocked(pid, thread, snap.stack_of(pid, thread.tid))


def live_process(evidence: Evidence, pid: int) -> ProcessEvidence | None:
    """The process with this pid that was alive when the snapshot was taken."""
    candidates = [
        p for p in evidence.processes.values() if p.key.pid == pid and p.state != "zombie"
    ]
    return max(candidates, key=lambda p: p.key.create_time, default=None)


def main_thread(snap: HangSnapshot, pid: int) -> Blocked | None:
    thread = next((t for t in snap.threads.get(pid, []) if t.tid == pid), None)
    return blocked(snap, pid, thread) if thread is not None else None


def pool_waits(snap: HangSnapshot, evidence: Evidence) -> list[PoolWait]:
    found = []
    for pid in snap.threads:
        waiter = main_thread(snap, pid)
        if waiter is None or not waiter.thread.waits_untimed:
            continue
        if not waiter.runs("multiprocessing/pool.py", _POOL_WAITS):
            continue
        pools = [p for p in evidence.pools if p.owner_pid == pid and p.kind == "Pool"]
        if not pools:
            continue
        found.extend(_pool_wait(snap, evidence, waiter, pools))
    return found


def _pool_wait(
    snap: HangSnapshot, evidence: Evidence, waiter: Blocked, pools: list[PoolEvidence]
) -> list[PoolWait]:
    threads = [blocked(snap, waiter.pid, t) for t in snap.threads[waiter.pid]]
    terminated = [p for p in pools if p.ended_how == "terminate"]
    open_pools = [p for p in pools if p.ended_s is None]
    if terminated and not open_pools and all(t.thread.waits_untimed for t in threads):
        # terminate() ended the pool's threads: nothing in this process can set a result
        return [PoolWait("terminated", waiter, max(terminated, key=lambda p: p.ended_s or 0))]
    if len(open_pools) != 1 or any(t.stack is None for t in threads):
        return []
    pool = open_pools[0]
    helpers = [t for t in threads if t.thread.tid != waiter.pid]
    if not any(t.runs("multiprocessing/pool.py", {"_handle_results"}) for t in helpers):
        if all(t.thread.waits_untimed or _pool_housekeeping(t) for t in helpers):
            return [PoolWait("no-result-handler", waiter, pool)]
        return []
    dead = _dead_workers(evidence, pool)
    if not dead:
        return []
    if not all(t.thread.waits_untimed or _pool_housekeeping(t) for t in helpers):
        return []
    workers = [
        p
        for p in evidence.processes.values()
        if p.pool_id == pool.pool_id and p.key.pid in snap.threads and p.state != "zombie"
    ]
    if not workers or not all(_idle(snap, w.key.pid) for w in workers):
        return []
    return [PoolWait("lost-task", waiter, pool, dead)]


def _pool_housekeeping(thread: Blocked) -> bool:
    """Pool's worker handler: a timed loop that only replaces dead workers."""
    return thread.runs("multiprocessing/pool.py", {"_handle_workers"})


def _dead_workers(evidence: Evidence, pool: PoolEvidence) -> list[ProcessEvidence]:
    return [
        p
        for p in evidence.processes.values()
        if p.pool_id == pool.pool_id
        and (p.signal not in (None, 15) or p.exit_code not in (None, 0))
        and not p.ended_by_mpdoctor
    ]


def _idle(snap: HangSnapshot, pid: int) -> bool:
    threads = snap.threads.get(pid, [])
    return bool(threads) and all(t.readable and t.waits_untimed for t in threads)


def forked_locks(snap: HangSnapshot, evidence: Evidence) -> list[ForkedLock]:
    found = []
    for pid, threads in snap.threads.items():
        child = live_process(evidence, pid)
        if child is None or not child.threads_at_fork or child.threads_at_fork < 2:
            continue
        if len(threads) != 1 or not threads[0].readable:
            continue
        thread = threads[0]
        if thread.syscall != "futex" or not (thread.futex or "").endswith("private"):
            continue
        if thread.waits_untimed:  # a private lock in a one-thread process: nobody can free it
            found.append(ForkedLock(child, blocked(snap, pid, thread)))
    return found
