"""unpicklable-object: what was sent to a child holds members that cannot be pickled.

Locks, generators, open files, database connections, multiprocessing's own Lock and Queue
(which may only be inherited): the probe's search names the path of every failing member
(`args[0] -> Counter.guard`), not only the first one the pickler tripped on. A Queue pickles
in its feeder thread after put() has returned: the item is dropped, which the message says (a
get() waiting for it then times out or never returns).
"""

from __future__ import annotations

from mpdoctor.diagnose.evidence import Evidence, PicklingEvidence, UnpicklableMember
from mpdoctor.diagnose.pickling import (
    call_location,
    call_text,
    member_lines,
    sender,
    sent_failures,
)
from mpdoctor.diagnose.wording import plural
from mpdoctor.model import Finding, Hint

RULE_ID = "unpicklable-object"

HINT = Hint(
    fix=(
        "Send plain data (ids, paths, numbers); create locks, files, connections and clients "
        "inside the worker (a Pool initializer), or share them by inheritance or a Manager."
    ),
    why=(
        "Everything sent to another process is pickled, and objects bound to this process "
        "(locks, open files, sockets, generators) cannot be; multiprocessing's Lock and Queue "
        "can only be passed to a Process at creation, not through a pool."
    ),
    docs="https://docs.python.org/3/library/multiprocessing.html#all-start-methods",
)


def check(evidence: Evidence) -> list[Finding]:
    findings = []
    for failure in sent_failures(evidence):
        objects = [m for m in failure.members if m.kind == "object"]
        if objects:
            findings.append(_finding(failure, objects))
    return findings


def _finding(failure: PicklingEvidence, objects: list[UnpicklableMember]) -> Finding:
    call = call_text(failure)
    first = objects[0]
    if len(objects) == 1:
        subject = f"{first.path} is a {first.type}"
    else:
        types = sorted({m.type for m in objects})
        subject = f"{plural(len(objects), 'member')} cannot be pickled ({', '.join(types)})"
    locations = [loc] if (loc := call_location(failure)) else []
    dropped = (
        " put() had already returned: the queue's feeder thread pickles in the background, and it"
        " dropped the item, so no get() receives it."
        if failure.dropped
        else ""
    )
    return Finding(
        id=RULE_ID,
        severity="error",
        certainty="proven",
        title=f"{sender(failure)} cannot send a {first.type}"
        if len(objects) == 1
        else f"{sender(failure)} cannot send {len(objects)} members",
        message=f"{call} failed: {subject}. Python raised {failure.error}.{dropped}",
        pids=[failure.pid],
        locations=locations,
        evidence=member_lines(objects, failure.truncated),
        hint=HINT,
    )
