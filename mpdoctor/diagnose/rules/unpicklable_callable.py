"""unpicklable-callable: a lambda, a nested function or a local class was sent to a child.

multiprocessing pickles functions and classes by module and qualified name, and the child
looks the name up again; a lambda, a function defined inside another or a class defined in a
function has no name the child can find. Every Pool and executor call pickles its function;
spawn and forkserver also pickle a Process's target. Found by the probe's search after a real
failure (`unpicklable` events), with where the callable is defined and the call that sent it.
"""

from __future__ import annotations

from mpdoctor.diagnose.causes import not_found_in_main
from mpdoctor.diagnose.evidence import Evidence, PicklingEvidence, ProcessEvidence
from mpdoctor.diagnose.family import pool_of
from mpdoctor.diagnose.pickling import (
    call_location,
    call_text,
    defined_location,
    member_lines,
    sender,
    sent_failures,
)
from mpdoctor.diagnose.tracebacks import clipped_traceback, exception_text
from mpdoctor.diagnose.wording import location, plural, where
from mpdoctor.model import Finding, Hint

RULE_ID = "unpicklable-callable"

HINT = Hint(
    fix=(
        "Define the function (or class) at module level, before creating the pool, and pass "
        "it by name; bind fixed arguments with functools.partial instead of a lambda or closure."
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
    return findings + _defined_too_late(evidence)


def _defined_too_late(evidence: Evidence) -> list[Finding]:
    """Fork workers that could not find a function in `__main__`, which has a file: it was
    defined (or bound) after the workers were forked, so their copy of the module lacks it."""
    groups: dict[tuple, list[tuple[ProcessEvidence, str]]] = {}
    for proc in evidence.processes.values():
        found = not_found_in_main(proc)
        if found is not None and found[1]:
            pool = pool_of(proc, evidence)
            groups.setdefault((pool.pool_id if pool else None, found[0]), []).append(
                (proc, found[0])
            )
    findings = []
    for (_, name), hits in groups.items():
        first = hits[0][0]
        pool = pool_of(first, evidence)
        created = f", created at {where(pool.site)}" if pool and pool.site else ""
        exc = first.exception
        assert exc is not None
        message = (
            f"{plural(len(hits), 'worker')} of the {pool.kind if pool else 'pool'}{created}, "
            f"could not find {name}() in __main__: it was defined after the workers were "
            f"{first.start_method or 'fork'}ed, and each worker has the module as it was then. "
            f"They raised {exception_text(exc)}; the task each one held is lost."
        )
        locations = []
        if pool is not None and pool.site is not None:
            locations.append(location("created", pool.site, pool.owner_pid))
        findings.append(
            Finding(
                id=RULE_ID,
                severity="error",
                certainty="proven",
                title=f"{name}() was defined after the pool's workers started",
                message=message,
                pids=sorted(p.key.pid for p, _ in hits),
                locations=locations,
                evidence=[clipped_traceback(exc.traceback)],
                hint=HINT,
            )
        )
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
