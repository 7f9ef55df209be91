"""initializer-failed: a Pool's initializer raised in its workers.

Pool replaces a worker whose initializer raised, and the new one fails the same way: the same
traceback hundreds of times a second, forever (mpdoctor stops that loop). The exception escaped
Pool's worker() function, which catches everything a task raises: it came from the set-up.
"""

from __future__ import annotations

from mpdoctor.diagnose.causes import escaped_pool_worker
from mpdoctor.diagnose.evidence import Evidence, ProcessEvidence
from mpdoctor.diagnose.family import parent_of, pool_of, short_label
from mpdoctor.diagnose.tracebacks import clipped_traceback, exception_text, user_frame
from mpdoctor.diagnose.wording import location, plural, where
from mpdoctor.model import Finding, Hint

RULE_ID = "initializer-failed"

HINT = Hint(
    fix=(
        "Make the initializer succeed, or check its resources once in the parent before "
        "creating the pool; ProcessPoolExecutor(initializer=...) fails fast instead of looping."
    ),
    why=(
        "Pool replaces a worker whose initializer raised with a new one that fails the same "
        "way, forever; map() never returns."
    ),
    docs="https://docs.python.org/3/library/multiprocessing.html#multiprocessing.pool.Pool",
)


def check(evidence: Evidence) -> list[Finding]:
    groups: dict[tuple, list[ProcessEvidence]] = {}
    for proc in evidence.processes.values():
        if not is_initializer_failure(proc):
            continue
        pool = pool_of(proc, evidence)
        parent = parent_of(proc, evidence)
        owner = pool.pool_id if pool else parent.key if parent else None
        key = (owner, proc.exception.type if proc.exception else None)
        groups.setdefault(key, []).append(proc)
    return [_finding(procs, evidence) for procs in groups.values()]


def is_initializer_failure(proc: ProcessEvidence) -> bool:
    """The exception escaped Pool's worker() from the frame right after it (the initializer;
    a task that cannot be unpickled fails inside multiprocessing's own get())."""
    if proc.exception is not None and proc.exception.where == "initializer":
        return True  # ProcessPoolExecutor's worker logged it and returned
    worker = escaped_pool_worker(proc)
    if worker is None or proc.exception is None:
        return False
    frames = proc.exception.frames
    after = frames[frames.index(worker) + 1 :]
    return bool(after) and not after[0].file.endswith(("queues.py", "connection.py"))


def _finding(procs: list[ProcessEvidence], evidence: Evidence) -> Finding:
    first = procs[0]
    exc = first.exception
    assert exc is not None
    frames = exc.frames
    executor = exc.where == "initializer"
    worker = frames[0] if executor and frames else escaped_pool_worker(first)
    init = frames[frames.index(worker) + 1] if worker in frames[:-1] else None
    raised = user_frame(frames)
    name = f"{init.function}()" if init else "the initializer"
    at = f" at {where(raised)}" if raised else ""
    pool = pool_of(first, evidence)
    kind = pool.kind if pool else ("ProcessPoolExecutor" if executor else "Pool")
    created = f" of the {kind} created at {where(pool.site)}" if pool and pool.site else ""
    effect = (
        "the executor is broken: every pending future raises BrokenProcessPool"
        if executor
        else "Pool replaced each one with a worker that failed the same way"
    )
    message = (
        f"The initializer {name}{created} raised {exception_text(exc)}{at} in "
        f"{plural(len(procs), 'worker')} ({short_label(first)} first); {effect}."
    )
    if evidence.respawn_stopped_parent is not None:
        message += " mpdoctor stopped the loop."
    locations = []
    if raised is not None:
        locations.append(location("raised", raised, first.key.pid))
    if pool is not None and pool.site is not None:
        locations.append(location("created", pool.site, pool.owner_pid))
    return Finding(
        id=RULE_ID,
        severity="error",
        certainty="proven",
        title=f"{kind} initializer {name} fails in every worker",
        message=message,
        pids=sorted(p.key.pid for p in procs),
        locations=locations,
        evidence=[clipped_traceback(exc.traceback)],
        hint=HINT,
    )
