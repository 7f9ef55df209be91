"""fork-with-threads: a forked child waits forever on a lock another thread held at the fork.

fork() copies only the thread that called it: a lock that another thread held at that moment is
copied locked, and nobody in the child will ever release it. The hang is proven when the child
has a single thread blocked, with no timeout, on a private futex (a lock of its own memory), and
its parent forked it while other threads ran; the probe recorded those threads and their stacks
at the fork. The cause is not: which lock it is, and whether it was held at the fork, is not
seen, and a Lock the child's own thread took twice looks the same; the message says both.
"""

from __future__ import annotations

from mpdoctor.diagnose.evidence import Evidence
from mpdoctor.diagnose.family import label
from mpdoctor.diagnose.hangs import proven_hangs
from mpdoctor.diagnose.waiting import frame_text, process_lines
from mpdoctor.diagnose.wording import location, plural, where
from mpdoctor.model import Finding, Hint

RULE_ID = "fork-with-threads"

HINT = Hint(
    fix=(
        "Use the spawn or forkserver start method (multiprocessing.get_context('spawn')), or "
        "start processes before starting threads; re-create your own locks in the child with "
        "os.register_at_fork(after_in_child=...)."
    ),
    why=(
        "fork() copies only the calling thread; a lock another thread held at that instant "
        "stays locked forever in the child."
    ),
    docs="https://docs.python.org/3/library/os.html#os.fork",
)


def check(evidence: Evidence) -> list[Finding]:
    snap = evidence.hang
    if snap is None:
        return []
    findings = []
    for stuck in proven_hangs(evidence).forked_locks:
        child, waiter = stuck.child, stuck.waiter
        at = waiter.user_frame
        others = child.fork_threads
        threads = plural((child.threads_at_fork or 1) - 1, "other thread")
        message = (
            f"{label(child)} was forked while {threads} ran in its parent and waits forever on "
            f"a lock{f' at {where(at)}' if at else ''}: its only thread is blocked on a "
            "private lock that no thread of the child can release. Either another thread held "
            "it at the fork, which copied it locked (a lock created before the fork), or the "
            "child's own thread already holds it (a Lock taken twice: use an RLock)."
        )
        lines = [f"at the fork: {t.name or 'a thread'} in {frame_text(t.frames)}" for t in others]
        if not others and child.threads_at_fork:
            lines.append(f"at the fork: {threads} without a Python stack (native threads)")
        locations = [location("blocked", at, child.key.pid)] if at else []
        if child.start_site is not None:
            locations.append(location("forked", child.start_site, child.ppid))
        findings.append(
            Finding(
                id=RULE_ID,
                severity="error",
                certainty="proven",
                title=f"{label(child)} is stuck on a lock no thread of it can release",
                message=message,
                pids=[child.key.pid],
                locations=locations,
                evidence=lines + process_lines(snap, evidence, [child.key.pid]),
                hint=HINT,
            )
        )
    return findings
