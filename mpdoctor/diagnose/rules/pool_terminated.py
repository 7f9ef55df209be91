"""pool-terminated: results awaited from a Pool that was already terminated.

`with Pool() as pool:` calls terminate() at the end of the block, not close() and join(): an
AsyncResult whose get() comes after the block waits forever, because the threads and workers
that would have delivered it are gone. Proven: the owner's main thread waits in a pool result
with no timeout, its pool was terminated, and every thread of the owner waits untimed.
"""

from __future__ import annotations

from mpdoctor.diagnose.evidence import Evidence
from mpdoctor.diagnose.family import describe
from mpdoctor.diagnose.hangs import live_process, proven_hangs
from mpdoctor.diagnose.waiting import process_lines
from mpdoctor.diagnose.wording import location, where
from mpdoctor.model import Finding, Hint

RULE_ID = "pool-terminated"

HINT = Hint(
    fix=(
        "Collect the results inside the `with Pool()` block (get() before it ends), or call "
        "pool.close() and pool.join() instead of leaving the block early."
    ),
    why=(
        "Pool.__exit__ calls terminate(): its workers and result thread stop, so a get() "
        "after the block never returns."
    ),
    docs="https://docs.python.org/3/library/multiprocessing.html#multiprocessing.pool.Pool",
)


def check(evidence: Evidence) -> list[Finding]:
    snap = evidence.hang
    if snap is None:
        return []
    findings = []
    for wait in proven_hangs(evidence).pools:
        if wait.kind != "terminated":
            continue
        pid = wait.waiter.pid
        owner = live_process(evidence, pid)
        name = describe(owner, evidence) if owner else f"pid {pid}"
        at = wait.waiter.user_frame
        created = f" created at {where(wait.pool.site)}" if wait.pool.site else ""
        message = (
            f"{name} waits{f' at {where(at)}' if at else ''} for a result of the Pool{created}, "
            "which was already terminated (the end of its `with` block calls terminate()): "
            "nothing is left to deliver it."
        )
        locations = [location("blocked", at, pid)] if at else []
        if wait.pool.site is not None:
            locations.append(location("terminated", wait.pool.site, pid))
        findings.append(
            Finding(
                id=RULE_ID,
                severity="error",
                certainty="proven",
                title="a result is awaited from a Pool that was already terminated",
                message=message[0].upper() + message[1:],
                pids=[pid],
                locations=locations,
                evidence=process_lines(snap, evidence, [pid]),
                hint=HINT,
            )
        )
    return findings
