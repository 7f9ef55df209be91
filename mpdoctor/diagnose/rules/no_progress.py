"""no-progress: nothing in the tree progressed for --hang-after seconds, and no rule proved why.

Reported with what every process and thread waits on and where, so the cause can be read off
(a sleep, a timed wait on something slow, a read from a service). Never an error: a busy or
deliberately sleeping program is not deadlocked.
"""

from __future__ import annotations

from mpdoctor.diagnose.evidence import Evidence
from mpdoctor.diagnose.hangs import main_thread, proven_hangs
from mpdoctor.diagnose.waiting import process_lines
from mpdoctor.diagnose.wording import location
from mpdoctor.model import Finding, Hint

RULE_ID = "no-progress"

HINT = Hint(
    fix=(
        "Read the waits listed with this finding: the thread waiting on something that will "
        "never come is the bug. Give every get(), join() and result() a timeout, and check "
        "exit codes."
    ),
    why="No process used CPU, started, ended or wrote an event for the whole period.",
    docs="https://docs.python.org/3/library/multiprocessing.html#programming-guidelines",
)

MIN_QUIET_S = 1.0


def check(evidence: Evidence) -> list[Finding]:
    snap = evidence.hang
    if snap is None or snap.reason == "deadlock":
        return []
    inspected = snap.reason == "inspect"  # `mpdoctor inspect`: quiet over its whole interval
    if snap.quiet_s <= 0 or (not inspected and snap.quiet_s < MIN_QUIET_S):
        return []  # a busy tree stopped by the timeout keeps its stacks, not this finding
    if snap.reason == "signal" and snap.quiet_s < (snap.hang_after_s or 0.0):
        # a `kill` (a CI cancel) of a tree quiet for less than --hang-after: no hang yet; the
        # other rules still prove a deadlock, which needs no waiting period
        return []
    if proven_hangs(evidence):
        return []
    from mpdoctor.diagnose.rules import orphaned_wait

    if orphaned_wait.check(evidence):
        return []
    pids = sorted(snap.threads)
    locations = []
    for pid in pids:
        waiter = main_thread(snap, pid)
        if waiter is not None and waiter.user_frame is not None:
            locations.append(location("waiting", waiter.user_frame, pid))
    return [
        Finding(
            id=RULE_ID,
            severity="warning",
            certainty="suspected",
            title=(
                f"no progress while mpdoctor looked ({snap.quiet_s:.2f} s)"
                if inspected
                else f"no progress for {snap.quiet_s:.0f} s"
            ),
            message=(
                "No process of the tree used CPU, started, ended or wrote an event "
                + (
                    f"during the {snap.quiet_s:.1f} s mpdoctor looked at it"
                    if inspected
                    else f"for {snap.quiet_s:.1f} s"
                )
                + ", and no cause could be proven. What each thread waits on:"
            ),
            pids=pids,
            locations=locations,
            evidence=process_lines(snap, evidence, pids),
            hint=HINT,
        )
    ]
