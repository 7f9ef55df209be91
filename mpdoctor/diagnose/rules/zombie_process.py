"""zombie-process: a child that exited but stayed unreaped (state Z) for 2 s or more.

A zombie holds its pid and process-table slot until its parent waits for it. Short zombies are
normal (multiprocessing reaps on the next start(), join() or active_children()); one that stays
means its parent never joins it. The finding names that parent.
"""

from __future__ import annotations

from mpdoctor.diagnose.evidence import Evidence, ProcessEvidence
from mpdoctor.diagnose.exits import death_of, describe
from mpdoctor.diagnose.family import describe as describe_process
from mpdoctor.diagnose.family import label, parent_of, short_label
from mpdoctor.diagnose.roles import classify
from mpdoctor.diagnose.wording import location, seconds
from mpdoctor.model import Finding, Hint

RULE_ID = "zombie-process"
MIN_ZOMBIE_S = 2.0
_CLOCK_SLACK_S = 1e-6  # a span of 2 s computed as (t + 2) - t can come out 1.9999999999999998

HINT = Hint(
    fix=(
        "join() each process once it has finished (or call multiprocessing.active_children() "
        "now and then, which reaps finished ones); run containers with an init (docker --init)."
    ),
    why=(
        "A finished child stays a zombie until its parent waits for it; in a long-running "
        "parent they pile up and hold process-table slots."
    ),
    docs="https://docs.python.org/3/library/multiprocessing.html#multiprocessing-programming",
)


def check(evidence: Evidence) -> list[Finding]:
    findings = []
    for proc in sorted(evidence.processes.values(), key=lambda p: p.zombie_since_s or 0.0):
        if proc.key == evidence.main or _zombie_for(proc) < MIN_ZOMBIE_S - _CLOCK_SLACK_S:
            continue
        parent = parent_of(proc, evidence)
        if parent is None:
            continue  # the monitor itself reaps the main process and reparented orphans
        if _parent_stuck(parent, evidence):
            continue  # it would reap the child once unblocked: the hang is the finding
        findings.append(_finding(proc, parent, evidence))
    return findings


def _parent_stuck(parent: ProcessEvidence, evidence: Evidence) -> bool:
    """The parent was stalled (hang snapshot) until the end of the run, either in a wait that
    does not end by itself (a join, a read: it would reap the child once unblocked) or in a
    loop a hang rule explains (orphaned-wait: polling a queue nobody can fill, the zombie is
    that dead producer). Then the hang is the finding. A parent that only sleeps is not stuck:
    it never waits for its child, which is the bug."""
    hang = evidence.hang
    if hang is None or not hang.ended:
        return False
    threads = hang.threads.get(parent.key.pid)
    if not threads:
        return False
    main = next((t for t in threads if t.tid == parent.key.pid), None)
    if main is None or main.waits_untimed:
        return True
    from mpdoctor.diagnose.rules import orphaned_wait

    return any(parent.key.pid in finding.pids for finding in orphaned_wait.check(evidence))


def _zombie_for(proc: ProcessEvidence) -> float:
    if proc.zombie_since_s is None or proc.zombie_until_s is None:
        return 0.0
    return proc.zombie_until_s - proc.zombie_since_s


def _finding(proc: ProcessEvidence, parent: ProcessEvidence, evidence: Evidence) -> Finding:
    lasted = _zombie_for(proc)
    since = proc.zombie_since_s or 0.0
    until = proc.zombie_until_s or since
    if proc.exit_seen_by == "parent-probe" and proc.state != "zombie":  # joined, but late
        waited = f"waited for it (join()) only {seconds(lasted)} after it had exited"
    else:
        waited = "did not wait for it"
    message = (
        f"{label(proc)} exited but stayed a zombie for at least {seconds(lasted)}: its parent, "
        f"{_parent_text(parent, evidence)}, {waited}."
    )
    lines = [f"state Z (zombie) from {seconds(since)} to {seconds(until)}"]
    death = death_of(proc)
    if death is not None:
        how, _ = describe(proc, death, evidence)
        lines.append(f"its exit status: {how.removeprefix('was ')}")
    locations = []
    if proc.start_site is not None:
        locations.append(location("started", proc.start_site, parent.key.pid))
    name = short_label(proc)
    return Finding(
        id=RULE_ID,
        severity="warning",
        certainty="proven",
        title=f"{name} stayed a zombie for {seconds(lasted)}",
        message=message,
        pids=[proc.key.pid],
        locations=locations,
        evidence=lines,
        hint=HINT,
    )


def _parent_text(parent: ProcessEvidence, evidence: Evidence) -> str:
    if parent.key == evidence.main:
        return describe_process(parent, evidence)
    return f"{classify(parent, evidence)} {label(parent)}"
