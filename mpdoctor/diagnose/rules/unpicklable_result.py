"""unpicklable-result: a worker's return value cannot be pickled back to the parent.

Pool wraps the error in MaybeEncodingError, whose text holds only reprs; the probe searches the
value in the worker, where it still exists, and names each failing member.
"""

from __future__ import annotations

from mpdoctor.diagnose.evidence import Evidence, PicklingEvidence
from mpdoctor.diagnose.pickling import member_lines
from mpdoctor.diagnose.tracebacks import user_frame
from mpdoctor.diagnose.wording import location, plural
from mpdoctor.model import Finding, Hint

RULE_ID = "unpicklable-result"

HINT = Hint(
    fix=(
        "Return plain data: materialize generators (list(...)), return paths or ids instead of "
        "open files and connections, copy what you need out of locked objects."
    ),
    why="A worker's return value is pickled to reach the parent; it fails like any argument.",
    docs="https://docs.python.org/3/library/multiprocessing.html#multiprocessing.pool.MaybeEncodingError",
)


def check(evidence: Evidence) -> list[Finding]:
    failures = [f for f in evidence.pickling if f.what == "result"]
    if not failures:
        return []
    by_function: dict[str | None, list[PicklingEvidence]] = {}
    for failure in failures:
        by_function.setdefault(failure.function, []).append(failure)
    return [_finding(function, group, evidence) for function, group in by_function.items()]


def _finding(function: str | None, group: list[PicklingEvidence], evidence: Evidence) -> Finding:
    members = [m for f in group for m in f.members]
    first = members[0] if members else None
    who = f"{function}()" if function else "a task"
    pids = sorted({f.pid for f in group})
    what = f"{first.path} is a {first.type}" if first else group[0].error
    message = (
        f"The return value of {who} could not be sent back from "
        f"{plural(len(pids), 'worker')}: {what}. The caller gets MaybeEncodingError."
    )
    locations = []
    main = evidence.processes.get(evidence.main) if evidence.main else None
    if (
        main is not None
        and main.exception is not None
        and "MaybeEncodingError" in main.exception.type
    ):
        frame = user_frame(main.exception.frames)
        if frame is not None:
            locations.append(location("awaited", frame, main.key.pid))
    lines = member_lines(members, any(f.truncated for f in group))
    lines.append(f"error: {group[0].error}")
    return Finding(
        id=RULE_ID,
        severity="error",
        certainty="proven",
        title=f"{who} returns a value that cannot be pickled",
        message=message,
        pids=pids,
        locations=locations,
        evidence=lines,
        hint=HINT,
    )
