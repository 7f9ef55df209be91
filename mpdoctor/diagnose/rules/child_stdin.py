"""child-stdin: a child read standard input, which multiprocessing replaced with /dev/null.

`input()` in a Process target or a pool task raises "EOFError: EOF when reading a line" at
once: multiprocessing points a child's stdin at /dev/null (docs: "Beware of replacing
sys.stdin"). The exception is recorded where the child raised it (target or task).
"""

from __future__ import annotations

from mpdoctor.diagnose.causes import exceptions_matching, stdin_eof
from mpdoctor.diagnose.evidence import Evidence
from mpdoctor.diagnose.family import short_label
from mpdoctor.diagnose.tracebacks import user_frame
from mpdoctor.diagnose.wording import location, plural, where
from mpdoctor.model import Finding, Hint

RULE_ID = "child-stdin"

HINT = Hint(
    fix=(
        "Read the input in the parent and pass it to the child as an argument (or through a "
        "Queue); a child cannot share the terminal's stdin."
    ),
    why=(
        "multiprocessing points every child's stdin at /dev/null, so input() in a child hits "
        "end of file at once."
    ),
    docs="https://docs.python.org/3/library/multiprocessing.html#all-start-methods",
)


def check(evidence: Evidence) -> list[Finding]:
    hits = exceptions_matching(evidence, stdin_eof)
    if not hits:
        return []
    proc, exc = hits[0]
    frame = user_frame(exc.frames)
    at = f" at {where(frame)}" if frame else ""
    where_run = "a pool task" if exc.where == "task" else "its target"
    message = (
        f"{short_label(proc)} read standard input{at} in {where_run} and got EOFError: "
        f"multiprocessing gives children /dev/null as stdin"
        + (f" ({plural(len(hits), 'child', 'children')} did)." if len(hits) > 1 else ".")
    )
    return [
        Finding(
            id=RULE_ID,
            severity="error",
            certainty="proven",
            title="a child reads stdin, which is /dev/null",
            message=message,
            pids=sorted(p.key.pid for p, _ in hits),
            locations=[location("raised", frame, proc.key.pid)] if frame else [],
            evidence=[f"{exc.type}: {exc.message}"],
            hint=HINT,
        )
    ]
