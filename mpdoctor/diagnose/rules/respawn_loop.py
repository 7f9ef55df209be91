"""respawn-loop: pool workers die right after they start, again and again, and no specific
cause is proven (missing-main-guard, initializer-failed and the pickling findings name theirs).

Pool replaces every dead worker at once, so a worker that cannot get going (os._exit in an
initializer, a crash in a C extension's import, a signal at start-up) makes an endless loop;
mpdoctor stops it after a few repetitions (the probe in the pool's owner counts workers that
die within a second of their start).
"""

from __future__ import annotations

from mpdoctor.diagnose.evidence import Evidence, PoolEvidence, ProcessEvidence
from mpdoctor.diagnose.exits import Death, describe
from mpdoctor.diagnose.family import label, pool_of
from mpdoctor.diagnose.wording import location, plural, where
from mpdoctor.model import Finding, Hint

RULE_ID = "respawn-loop"

HINT = Hint(
    fix=(
        "Find why a fresh worker dies (its initializer, an import in the worker, the memory "
        "it starts with): run the initializer once in the parent, or use ProcessPoolExecutor, "
        "which fails fast with BrokenProcessPool instead of looping."
    ),
    why="Pool replaces a dead worker at once and forever; map() never returns.",
    docs="https://docs.python.org/3/library/multiprocessing.html#multiprocessing.pool.Pool",
)

MIN_DEATHS = 4  # a loop, not a few unlucky workers
# ...or fewer when the replacements died too: more early deaths than the pool has workers.
# Python 3.9's Pool.map_async can end such a loop itself (ZeroDivisionError on an empty pool).
MIN_DEATHS_WITH_REPLACEMENTS = 3
EARLY_S = 1.0  # dead this soon after its start: it never did any work


def check(evidence: Evidence) -> list[Finding]:
    loops, _rest = split_groups(evidence)
    return [_finding(deaths, evidence) for deaths in loops]


Group = list[tuple[ProcessEvidence, Death]]


def split_groups(evidence: Evidence) -> tuple[list[Group], list[Group]]:
    """Dead-worker groups that are respawn loops, and the others. A worker the loop's pool
    started as mpdoctor stopped the tree (its parent was ended before it could record the
    start, so no pool is known) dying the same way joins the loop."""
    from mpdoctor.diagnose.rules.worker_died import dead_worker_groups

    groups = dead_worker_groups(evidence)
    loops = [g for g in groups if is_respawn_loop(g, evidence)]
    rest = []
    for group in groups:
        if any(group is loop for loop in loops):
            continue
        loop = next((lp for lp in loops if _same_loop(lp, group, evidence)), None)
        if loop is not None:
            loop.extend(group)
        else:
            rest.append(group)
    return loops, rest


def _same_loop(loop: Group, group: Group, evidence: Evidence) -> bool:
    pool = pool_of(loop[0][0], evidence)
    if pool is None:
        return False
    death = loop[0][1]
    return all(
        pool_of(p, evidence) is None and p.ppid == pool.owner_pid and d == death for p, d in group
    )


def is_respawn_loop(deaths: list[tuple[ProcessEvidence, Death]], evidence: Evidence) -> bool:
    lifetimes = [_lifetime(p) for p, _ in deaths]
    early = [t for t in lifetimes if t is not None and t < EARLY_S]
    if len(early) < len(deaths) // 2:
        return False
    pool = pool_of(deaths[0][0], evidence)
    if len(early) < MIN_DEATHS and not _replacements_died(len(early), pool):
        return False
    return pool is not None or evidence.respawn_stopped_parent is not None


def _replacements_died(early_deaths: int, pool: PoolEvidence | None) -> bool:
    if pool is None or pool.size is None:
        return False
    return early_deaths >= MIN_DEATHS_WITH_REPLACEMENTS and early_deaths > pool.size


def _lifetime(proc: ProcessEvidence) -> float | None:
    if proc.started_s is None or proc.ended_s is None:
        return None
    return proc.ended_s - proc.started_s


def _finding(deaths: list[tuple[ProcessEvidence, Death]], evidence: Evidence) -> Finding:
    first, death = deaths[0]
    pool = pool_of(first, evidence)
    how, lines = describe(first, death, evidence)
    whose = f"the {pool.kind} created at {where(pool.site)}" if pool and pool.site else "a pool"
    message = (
        f"{plural(len(deaths), 'worker')} of {whose} died within {EARLY_S:g} s of their start "
        f"({label(first)} {how}), and the pool kept starting new ones."
    )
    if evidence.respawn_stopped_parent is not None:
        message += " mpdoctor stopped the loop."
    locations = []
    if pool is not None and pool.site is not None:
        locations.append(location("created", pool.site, pool.owner_pid))
    return Finding(
        id=RULE_ID,
        severity="error",
        certainty="proven",
        title=f"pool workers die at start-up, again and again ({len(deaths)} so far)",
        message=message,
        pids=[p.key.pid for p, _ in deaths],
        locations=locations,
        evidence=lines,
        hint=HINT,
    )
