"""Waits that can never end, proven from the hang snapshot and the run's evidence (pure).

`waitgraph.stuck` gives the threads whose wait can never end (every thread that could release
it is itself stuck: see there what counts). The one piece of knowledge added is
multiprocessing's own: Pool's worker-handler thread only replaces dead workers, so it never
delivers a result (`inert_threads`).

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
from mpdoctor.diagnose.family import process_at
from mpdoctor.diagnose.tracebacks import is_library, user_frame
from mpdoctor.diagnose.waitgraph import (
    JoinCycle,
    OrphanedRead,
    join_before_drain,
    orphaned_reads,
    stuck,
    waited_child,
)
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
    """The hangs the evidence proves, and the processes they involve."""

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
    joins = current_joins(snap, evidence)
    members = stuck(snap, joins, inert_threads(snap))
    return ProvenHangs(
        joins=join_before_drain(snap, members, joins),
        orphaned=orphaned_reads(snap, members),
        pools=pool_waits(snap, evidence, members),
        forked_locks=forked_locks(snap, evidence, members, joins),
    )


def inert_threads(snap: HangSnapshot) -> set[tuple[int, int]]:
    """Pool's worker-handler threads: whatever they do, they never deliver a task or a result
    (they replace dead workers; CPython's spins once the result handler died). Known by the
    innermost frame of pool.py on their stack (a worker forked by that thread has its frames
    further down, under `worker()`)."""
    inert = set()
    for pid, stacks in snap.stacks.items():
        for stack in stacks:
            first = next((f for f in stack.frames if f.file.endswith(_POOL_PY)), None)
            if stack.tid is not None and first is not None and first.function in _HOUSEKEEPING:
                inert.add((pid, stack.tid))
    return inert


_POOL_PY = "multiprocessing/pool.py"
_HOUSEKEEPING = {
    "_handle_workers",
    "_wait_for_updates",
    "_maintain_pool",
    "_join_exited_workers",
    "_repopulate_pool",
    "_repopulate_pool_static",
}


def _in_pool(frame: Frame, function: str) -> bool:
    return frame.file.endswith("multiprocessing/pool.py") and frame.function == function


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
    """The process that had this pid when the snapshot was taken, unless it was a zombie."""
    proc = process_at(evidence, pid, evidence.hang.t_s if evidence.hang else None)
    return proc if proc is not None and proc.state != "zombie" else None


def pool_waiter(evidence: Evidence, kind: str, pool_id: str | None = None) -> Blocked | None:
    """The pool owner's thread stuck waiting for a result that `kind` says cannot come
    (lost-task, no-result-handler, terminated), for `pool_id` when given."""
    if evidence.hang is None:
        return None
    for wait in proven_hangs(evidence).pools:
        if wait.kind == kind and (pool_id is None or wait.pool.pool_id == pool_id):
            return wait.waiter
    return None


def main_thread(snap: HangSnapshot, pid: int) -> Blocked | None:
    thread = next((t for t in snap.threads.get(pid, []) if t.tid == pid), None)
    return blocked(snap, pid, thread) if thread is not None else None


def pool_waits(
    snap: HangSnapshot, evidence: Evidence, members: set[tuple[int, int]]
) -> list[PoolWait]:
    """A pool owner's main thread stuck waiting for a result, and why no result can come."""
    found = []
    for pid in snap.threads:
        waiter = main_thread(snap, pid)
        if waiter is None or (pid, pid) not in members:
            continue
        if not waiter.runs("multiprocessing/pool.py", _POOL_WAITS):
            continue
        pools = [p for p in evidence.pools if p.owner_pid == pid and p.kind == "Pool"]
        wait = _pool_wait(snap, evidence, waiter, pools) if pools else None
        if wait is not None:
            found.append(wait)
    return found


_HANDLERS = {"_handle_workers", "_handle_tasks", "_handle_results"}


def _pool_wait(
    snap: HangSnapshot, evidence: Evidence, waiter: Blocked, pools: list[PoolEvidence]
) -> PoolWait | None:
    threads = [blocked(snap, waiter.pid, t) for t in snap.threads[waiter.pid]]
    if any(t.stack is None for t in threads):
        return None  # a thread we cannot name might be the one delivering
    handlers = {f.function for t in threads for f in t.frames if f.function in _HANDLERS}
    terminated = [p for p in pools if p.ended_how == "terminate"]
    if not handlers and terminated:
        # terminate() ended the pool's threads: nothing in this process can set a result
        return PoolWait("terminated", waiter, max(terminated, key=lambda p: p.ended_s or 0))
    open_pools = [p for p in pools if p.ended_how != "terminate"]
    if len(open_pools) != 1 or not handlers:
        return None
    pool = open_pools[0]
    if "_handle_results" not in handlers:
        return PoolWait("no-result-handler", waiter, pool)
    dead = _dead_workers(evidence, pool)
    workers = [
        p
        for p in evidence.processes.values()
        if p.pool_id == pool.pool_id and p.key.pid in snap.threads and p.state != "zombie"
    ]
    if dead and workers and all(_waits_for_work(snap, w.key.pid) for w in workers):
        return PoolWait("lost-task", waiter, pool, dead)
    return None


def _dead_workers(evidence: Evidence, pool: PoolEvidence) -> list[ProcessEvidence]:
    return [
        p
        for p in evidence.processes.values()
        if p.pool_id == pool.pool_id
        and (p.signal not in (None, 15) or p.exit_code not in (None, 0))
        and not p.ended_by_mpdoctor
    ]


def _waits_for_work(snap: HangSnapshot, pid: int) -> bool:
    """A pool worker idle in its loop: no frame of the program's inside its `worker()` (a
    forked worker's stack also holds the frames that started it, below `worker()`)."""
    stack = next((s for s in snap.stacks.get(pid, []) if s.tid == pid), None)
    if stack is None:
        return False
    for frame in stack.frames:  # innermost first
        if _in_pool(frame, "worker"):
            return True
        if not is_library(frame.file):
            return False  # running (or blocked in) a task
    return False


def forked_locks(
    snap: HangSnapshot,
    evidence: Evidence,
    members: set[tuple[int, int]],
    joins: dict[tuple[int, int], int],
) -> list[ForkedLock]:
    """A forked child whose only thread is stuck on a private lock, while some thread waits
    for that child without a timeout (otherwise the program goes on without it)."""
    awaited = {
        child
        for pid, threads in snap.threads.items()
        for t in threads
        if (pid, t.tid) in members and (child := waited_child(t, pid, joins)) is not None
    }
    found = []
    for pid, threads in snap.threads.items():
        child = live_process(evidence, pid)
        if child is None or not child.threads_at_fork or child.threads_at_fork < 2:
            continue
        if len(threads) != 1 or pid not in awaited or (pid, threads[0].tid) not in members:
            continue
        if threads[0].syscall == "futex":
            found.append(ForkedLock(child, blocked(snap, pid, threads[0])))
    return found
