"""Who is whose parent, and the tree order, by (pid, create_time) so a reused pid never confuses.

A parent is the process with the child's ppid that was created no later than the child; when
the pid was reused during the run, the latest such creation is the real parent.
"""

from __future__ import annotations

from mpdoctor.diagnose.evidence import Evidence, PoolEvidence, ProcessEvidence, ProcessKey
from mpdoctor.diagnose.wording import location
from mpdoctor.model import Location


def start_location(proc: ProcessEvidence, evidence: Evidence) -> Location | None:
    """The user's line that started `proc` ("started"), cited with its parent's pid."""
    if proc.start_site is None:
        return None
    parent = parent_of(proc, evidence)
    return location("started", proc.start_site, parent.key.pid if parent else None)


def parent_of(proc: ProcessEvidence, evidence: Evidence) -> ProcessEvidence | None:
    if proc.ppid is None:
        return None
    return _latest_before(evidence.by_pid(proc.ppid), proc.key)


def parents(evidence: Evidence) -> dict[ProcessKey, ProcessEvidence | None]:
    """`parent_of` for every process at once, in linear time (a respawn loop makes thousands)."""
    by_pid: dict[int, list[ProcessEvidence]] = {}
    for proc in evidence.processes.values():
        by_pid.setdefault(proc.key.pid, []).append(proc)
    return {
        key: _latest_before(by_pid.get(proc.ppid, []), key) if proc.ppid is not None else None
        for key, proc in evidence.processes.items()
    }


def _latest_before(holders: list[ProcessEvidence], child: ProcessKey) -> ProcessEvidence | None:
    """Of the processes that had the parent's pid, the last one created before the child."""
    candidates = [p for p in holders if p.key.create_time <= child.create_time and p.key != child]
    return max(candidates, key=lambda p: p.key.create_time, default=None)


def process_at(evidence: Evidence, pid: int, t_s: float | None) -> ProcessEvidence | None:
    """The process that had `pid` at time `t_s` (seconds since launch), when that is knowable."""
    holders = evidence.by_pid(pid)
    if len(holders) <= 1 or t_s is None:
        return holders[0] if len(holders) == 1 else None
    for p in holders:
        started = p.started_s if p.started_s is not None else float("-inf")
        ended = p.ended_s if p.ended_s is not None else float("inf")
        if started <= t_s <= ended:
            return p
    return None


def pool_of(proc: ProcessEvidence, evidence: Evidence) -> PoolEvidence | None:
    if proc.pool_id is None:
        return None
    return next((pool for pool in evidence.pools if pool.pool_id == proc.pool_id), None)


def name_of(proc: ProcessEvidence) -> str | None:
    """multiprocessing's name for it, else its program's name ("sleep"), else None."""
    if proc.name:
        return proc.name
    path = proc.exe or (proc.cmdline[0] if proc.cmdline else "")
    return path.replace("\\", "/").rsplit("/", 1)[-1] or None


def short_label(proc: ProcessEvidence) -> str:
    """For titles: "ForkPoolWorker-2", or "pid 4243" for a process with no name at all."""
    return name_of(proc) or f"pid {proc.key.pid}"


def label(proc: ProcessEvidence) -> str:
    """How messages name a process: "ForkPoolWorker-2 (pid 4243)"."""
    name = name_of(proc)
    return f"{name} (pid {proc.key.pid})" if name else f"pid {proc.key.pid}"


def describe(proc: ProcessEvidence, evidence: Evidence) -> str:
    """Like `label`, but the main process is called so: "the main process (pid 4240)"."""
    if proc.key == evidence.main:
        return f"the main process (pid {proc.key.pid})"
    return label(proc)


def _start_order(proc: ProcessEvidence) -> tuple[float, float, int]:
    started = proc.started_s if proc.started_s is not None else float("inf")
    return (proc.key.create_time, started, proc.key.pid)


def tree_order(evidence: Evidence) -> list[tuple[ProcessEvidence, int]]:
    """Every process with its depth, parents before children, siblings by start time.

    The main process comes first; processes whose parent is not in the evidence (reparented
    orphans, the monitor's other children) are roots after it.
    """
    children: dict[object, list[ProcessEvidence]] = {}
    roots: list[ProcessEvidence] = []
    parent_map = parents(evidence)
    for proc in evidence.processes.values():
        parent = parent_map[proc.key]
        if parent is None or proc.key == evidence.main:
            roots.append(proc)
        else:
            children.setdefault(parent.key, []).append(proc)
    roots.sort(key=lambda p: (p.key != evidence.main, *_start_order(p)))
    # Members of a ppid cycle (equal create times) are reachable from no root: they come last.
    roots += sorted(evidence.processes.values(), key=_start_order)
    ordered: list[tuple[ProcessEvidence, int]] = []
    seen: set[object] = set()
    for root in roots:
        stack = [(root, 0)]
        while stack:
            proc, depth = stack.pop()
            if proc.key in seen:
                continue
            seen.add(proc.key)
            ordered.append((proc, depth))
            kids = sorted(children.get(proc.key, []), key=_start_order)
            stack.extend((kid, depth + 1) for kid in reversed(kids))
    return ordered
