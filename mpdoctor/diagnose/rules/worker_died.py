"""worker-died: a Pool or ProcessPoolExecutor worker died abnormally while its pool was open.

Pool replaces the worker and never finishes the task it held, so `map()` and `get()` without a
timeout wait forever; ProcessPoolExecutor marks itself broken instead. Deaths of one pool with
the same cause make one finding (a pool that loses every worker is one problem, not ten).

Not findings: workers ended by their own pool's terminate() (a `with Pool()` block) or by an
executor's shutdown, deaths after the pool was closed or terminated, mpdoctor's tear-down,
Ctrl-C; a SIGTERM whose pool nothing recorded (its parent ran without the probe, and the pool's
own terminate is then the likely sender).
"""

from __future__ import annotations

from mpdoctor.diagnose.causes import named_cause
from mpdoctor.diagnose.evidence import Evidence, PoolEvidence, ProcessEvidence
from mpdoctor.diagnose.exits import (
    Death,
    death_of,
    describe,
    died_at,
    is_deliberate,
    kill_location,
)
from mpdoctor.diagnose.family import label, parent_of, pool_of, short_label, start_location
from mpdoctor.diagnose.hangs import pool_waiter
from mpdoctor.diagnose.roles import classify, classify_all
from mpdoctor.diagnose.signals import SIGTERM, signal_name
from mpdoctor.diagnose.tracebacks import clipped_traceback, exception_text, short_type
from mpdoctor.diagnose.wording import location, plural, where
from mpdoctor.model import Finding, Hint

RULE_ID = "worker-died"

HINT = Hint(
    fix=(
        "Use concurrent.futures.ProcessPoolExecutor (it fails fast with BrokenProcessPool), or "
        "wait with get(timeout=...) instead of map(); recycle workers with maxtasksperchild "
        "(max_tasks_per_child on 3.11+); give each task less memory."
    ),
    why=(
        "Pool silently replaces a dead worker and never finishes the task it held, so map() "
        "and get() without a timeout wait forever."
    ),
    # the way out it recommends
    docs="https://docs.python.org/3/library/concurrent.futures.html#processpoolexecutor",
)
# A ProcessPoolExecutor already fails fast: the advice is about the death, and the futures.
EXECUTOR_HINT = Hint(
    fix=(
        "Find why the worker died (the cause above: a signal's sender, an os._exit, memory) and "
        "catch BrokenProcessPool around result(); recycle workers with max_tasks_per_child "
        "(3.11+) and give each task less memory when it is the OOM killer."
    ),
    why=(
        "A ProcessPoolExecutor whose worker dies abruptly is broken for good: every pending and "
        "later future raises BrokenProcessPool, and the executor must be replaced."
    ),
    docs=(
        "https://docs.python.org/3/library/concurrent.futures.html"
        "#concurrent.futures.process.BrokenProcessPool"
    ),
)

_WORKERS = {"pool-worker", "executor-worker"}
_NAMES_SHOWN = 5


def check(evidence: Evidence) -> list[Finding]:
    from mpdoctor.diagnose.rules.respawn_loop import split_groups

    _loops, rest = split_groups(evidence)
    return [_finding(deaths, evidence) for deaths in rest]


def dead_worker_groups(evidence: Evidence) -> list[list[tuple[ProcessEvidence, Death]]]:
    """Abnormal worker deaths while their pool was open, by pool and cause, in order."""
    groups: dict[tuple, list[tuple[ProcessEvidence, Death]]] = {}
    roles = classify_all(evidence)
    for proc in sorted(evidence.processes.values(), key=_by_end):
        if proc.key == evidence.main or roles[proc.key] not in _WORKERS:
            continue
        death = death_of(proc)
        if death is None or is_deliberate(proc, death) or named_cause(proc):
            continue
        pool = pool_of(proc, evidence)
        if pool is None and death.signal == SIGTERM and not proc.kills:
            continue
        if pool is not None and not _open_at(pool, died_at(proc, death)):
            continue
        owner = pool.pool_id if pool else _owner_key(proc, evidence)
        cause = (death, proc.exception.type if proc.exception else None)
        groups.setdefault((owner, cause), []).append((proc, death))
    return list(groups.values())


def _by_end(proc: ProcessEvidence) -> tuple[float, int]:
    return (proc.ended_s if proc.ended_s is not None else float("inf"), proc.key.pid)


def _open_at(pool: PoolEvidence, died_s: float | None) -> bool:
    # An executor that "ended" by breaking broke because of a death: that is the finding.
    if pool.ended_s is None or pool.ended_how == "broken":
        return True
    return died_s is not None and died_s < pool.ended_s


def _owner_key(proc: ProcessEvidence, evidence: Evidence) -> object:
    parent = parent_of(proc, evidence)
    return parent.key if parent is not None else None


def _finding(deaths: list[tuple[ProcessEvidence, Death]], evidence: Evidence) -> Finding:
    first, death = deaths[0]
    pool = pool_of(first, evidence)
    how, lines = describe(first, death, evidence)
    if first.exception is not None:
        how = f"raised {exception_text(first.exception)} and {how}"
        lines.append(clipped_traceback(first.exception.traceback))
    kind = pool.kind if pool else _kind_from_role(classify(first, evidence))
    whose = f"the {kind} created at {where(pool.site)}" if pool and pool.site else f"a {kind}"
    message = f"{label(first)}, a worker of {whose}, {how}"
    if len(deaths) > 1:
        message += f"; {plural(len(deaths) - 1, 'other worker')} died the same way"
    stuck = pool_waiter(evidence, "lost-task", pool.pool_id) if pool is not None else None
    message += ". " + _consequence(kind, waited=stuck is not None)
    if len(deaths) > 1:
        names = [label(proc) for proc, _ in deaths[:_NAMES_SHOWN]]
        more = len(deaths) - len(names)
        lines.insert(0, "workers: " + ", ".join(names) + (f" and {more} more" if more else ""))
    if pool is not None:
        size = f", {pool.size} workers" if pool.size else ""
        method = f", {pool.start_method}" if pool.start_method else ""
        state = "broken by it" if pool.ended_how == "broken" else "still open at the death"
        lines.append(f"pool {pool.pool_id}: {pool.kind}{size}{method}, {state}")
    locations = []
    if pool is not None and pool.site is not None:
        locations.append(location("created", pool.site, pool.owner_pid))
    elif (started := start_location(first, evidence)) is not None:
        locations.append(started)
    killed = kill_location(first, death)
    if killed is not None:
        locations.append(killed)
    if stuck is not None:
        at = stuck.user_frame
        message += (
            f" It did: pid {stuck.pid} waits{f' at {where(at)}' if at else ''} for a result "
            "that will never come, while the other workers wait for work."
        )
        if at is not None:
            locations.append(location("blocked", at, stuck.pid))
    short = short_label(first)
    subject = short if len(deaths) == 1 else plural(len(deaths), f"{kind} worker")
    known = pool is not None
    return Finding(
        id=RULE_ID,
        severity="error" if known else "warning",
        certainty="proven" if known else "suspected",
        title=f"{subject} {_short_cause(death, first, evidence.platform)}",
        message=message,
        pids=[proc.key.pid for proc, _ in deaths],
        locations=locations,
        evidence=lines,
        hint=EXECUTOR_HINT if kind == "ProcessPoolExecutor" else HINT,
    )


def _kind_from_role(role: str) -> str:
    return "ProcessPoolExecutor" if role == "executor-worker" else "Pool"


def _consequence(kind: str, waited: bool) -> str:
    """What the death does to the pool; `waited`: a caller was seen waiting for a lost task
    (else the worker may have held none: the run went on)."""
    if kind == "ProcessPoolExecutor":
        return (
            "The executor was still open and is now broken: every pending future raises "
            "BrokenProcessPool."
        )
    if waited:
        return (
            "The pool was still open, and the worker took with it the task it held (or, idle, "
            "the lock of the pool's task queue): Pool.map() and AsyncResult.get() without a "
            "timeout wait forever."
        )
    return (
        "The pool was still open and replaced it; a task it held is never finished, and "
        "Pool.map() or AsyncResult.get() without a timeout would wait forever for it."
    )


def _short_cause(death: Death, proc: ProcessEvidence, platform: str) -> str:
    if proc.exception is not None:
        return f"raised {short_type(proc.exception.type)}"
    if death.signal is not None:
        return f"killed by {signal_name(death.signal, platform)}"
    return f"exited with code {death.exit_code}"
