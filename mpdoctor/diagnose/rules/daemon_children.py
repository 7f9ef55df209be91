"""daemon-children: a daemonic process (a Pool worker, a daemon=True Process) tried to start
children: "AssertionError: daemonic processes are not allowed to have children".

Pool workers are daemonic, so a Pool or a Process started inside a Pool task fails; executor
workers are not, so nesting inside ProcessPoolExecutor works. The check is an `assert`: under
`python -O` it is skipped and the daemonic children are orphaned instead.
"""

from __future__ import annotations

from mpdoctor.diagnose.causes import daemonic_child, exceptions_matching
from mpdoctor.diagnose.evidence import Evidence
from mpdoctor.diagnose.family import short_label
from mpdoctor.diagnose.tracebacks import user_frame
from mpdoctor.diagnose.wording import location, where
from mpdoctor.model import Finding, Hint

RULE_ID = "daemon-children"

HINT = Hint(
    fix=(
        "Flatten the work into one pool, or make the outer level a ProcessPoolExecutor (its "
        "workers may start processes); for a helper Process, drop daemon=True and join it."
    ),
    why=(
        "A daemonic process is terminated when its parent exits, so it may not have children "
        "of its own that would be orphaned; Pool workers are daemonic."
    ),
    docs="https://docs.python.org/3/library/multiprocessing.html#multiprocessing.Process.daemon",
)


def check(evidence: Evidence) -> list[Finding]:
    hits = exceptions_matching(evidence, daemonic_child)
    if not hits:
        return []
    proc, exc = hits[0]
    frame = user_frame(exc.frames)
    at = f" at {where(frame)}" if frame else ""
    who = short_label(proc)
    what = f"A task in {who}" if exc.where == "task" else f"The daemonic process {who}"
    return [
        Finding(
            id=RULE_ID,
            severity="error",
            certainty="proven",
            title="a daemonic process tried to start children",
            message=(
                f"{what} started a process{at}: daemonic processes are not allowed to have "
                "children."
            ),
            pids=sorted(p.key.pid for p, _ in hits),
            locations=[location("started", frame, proc.key.pid)] if frame else [],
            evidence=[f"{exc.type}: {exc.message}"],
            hint=HINT,
        )
    ]
