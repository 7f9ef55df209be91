"""unpicklable-callable: a lambda, a nested function or a local class was sent to a child.

multiprocessing pickles functions and classes by module and qualified name, and the child
looks the name up again; a lambda, a function defined inside another or a class defined in a
function has no name the child can find. Every Pool and executor call pickles its function;
spawn and forkserver also pickle a Process's target. Found by the probe's search after a real
failure (`unpicklable` events), with where the callable is defined and the call that sent it.
"""

from __future__ import annotations

from mpdoctor.diagnose.evidence import Evidence, PicklingEvidence
from mpdoctor.diagnose.pickling import (
    call_location,
    call_text,
    defined_location,
    member_lines,
    sender,
    sent_failures,
)
from mpdoctor.diagnose.wording import plural
from mpdoctor.model import Finding, Hint

RULE_ID = "unpicklable-callable"

HINT = Hint(
    fix=(
        "Define the function (or class) at module level and pass it by name; bind fixed "
        "arguments with functools.partial instead of a lambda or closure."
    ),
    why=(
        "multiprocessing sends functions and classes by module and qualified name, and the "
        "child looks them up again; lambdas, nested functions and local classes have no name "
        "it can find."
    ),
    docs="https://docs.python.org/3/library/pickle.html#what-can-be-pickled-and-unpickled",
)


def check(evidence: Evidence) -> list[Finding]:
    findings = []
    for failure in sent_failures(evidence):
        callables = [m for m in failure.members if m.kind == "callable"]
        if callables:
            findings.append(_finding(failure, callables))
    return findings


def _finding(failure: PicklingEvidence, callables: list) -> Finding:
    first = callables[0]
    name = first.name or first.type
    kind = "lambda" if "<lambda>" in name else "class" if first.instance else "function"
    call = call_text(failure)
    subject = f"the {kind} {name}" if len(callables) == 1 else plural(len(callables), "callable")
    message = f"{call} could not send {subject}: {first.reason}. Python raised {failure.error}."
    locations = [loc for m in callables if (loc := defined_location(m, failure.pid))]
    sent = call_location(failure)
    if sent is not None:
        locations.append(sent)
    return Finding(
        id=RULE_ID,
        severity="error",
        certainty="proven",
        title=f"{sender(failure)} cannot send "
        + (f"a {kind}" if len(callables) == 1 else "its callables"),
        message=message,
        pids=[failure.pid],
        locations=locations,
        evidence=member_lines(callables, failure.truncated),
        hint=HINT,
    )
