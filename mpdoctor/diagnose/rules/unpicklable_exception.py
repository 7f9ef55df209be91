"""unpicklable-exception: a worker raised an exception the parent cannot rebuild.

An exception travels as its class and its `args`; the parent calls `cls(*args)`. A class whose
`__init__` takes other arguments than `args` holds fails there, in the parent's result thread:
multiprocessing.Pool's result handler dies and every map()/get() waits forever, and
ProcessPoolExecutor reports a false "terminated abruptly" BrokenProcessPool. The probe
reads the `__init__` signature of each exception class a worker sends back (calling nothing),
so the class and its `__init__` are named.
"""

from __future__ import annotations

from mpdoctor.diagnose.evidence import Evidence, PicklingEvidence
from mpdoctor.diagnose.hangs import pool_waiter
from mpdoctor.diagnose.pickling import member_lines
from mpdoctor.diagnose.roles import classify
from mpdoctor.diagnose.wording import location, plural, where
from mpdoctor.model import Finding, Hint, Location

RULE_ID = "unpicklable-exception"

HINT = Hint(
    fix=(
        "Pass every constructor argument on to the base class (super().__init__(code, "
        "detail)), or define __reduce__ returning (type(self), (self.code, self.detail))."
    ),
    why=(
        "The parent rebuilds a worker's exception as cls(*exc.args); when __init__ expects "
        "other arguments, that raises in the parent's result thread: Pool then hangs forever "
        "and ProcessPoolExecutor reports a broken pool though no process died."
    ),
    docs="https://docs.python.org/3/library/pickle.html#object.__reduce__",
)


def check(evidence: Evidence) -> list[Finding]:
    groups: dict[str, list[PicklingEvidence]] = {}
    for failure in evidence.pickling:
        if failure.what == "exception":
            name = failure.raised.type if failure.raised else "?"
            groups.setdefault(name, []).append(failure)
    return [_finding(name, group, evidence) for name, group in groups.items()]


def _finding(name: str, group: list[PicklingEvidence], evidence: Evidence) -> Finding:
    first = group[0]
    raised = first.raised
    pids = sorted({f.pid for f in group})
    roles = {classify(p, evidence) for pid in pids for p in evidence.by_pid(pid)}
    if "executor-worker" in roles:
        effect = "ProcessPoolExecutor then reports BrokenProcessPool though no worker died"
    else:
        effect = "Pool's result handler thread dies on it and map()/get() wait forever"
    why = f"rebuilding it failed with {first.error}"
    if raised is not None and raised.init:
        why = f"{raised.init} does not accept the exception's args: {first.error}"
    message = (
        f"{plural(len(pids), 'worker')} raised {name}, which the parent cannot rebuild: "
        f"{why}. {effect}."
    )
    locations = []
    stuck = pool_waiter(evidence, "no-result-handler")
    if stuck is not None:
        blocked_at = stuck.user_frame
        message += (
            f" pid {stuck.pid} waits{f' at {where(blocked_at)}' if blocked_at else ''} for a "
            "result of that pool; its result handler thread is gone."
        )
        if blocked_at is not None:
            locations.append(location("blocked", blocked_at, stuck.pid))
    if raised is not None:
        at = raised.init_at or raised.defined
        if at is not None and at.line is not None:
            locations.append(Location("defined", at.file, at.line, None, f"{name}.__init__"))
    lines = [f"error: {first.error}"]
    if first.members:
        lines[:0] = member_lines(first.members, first.truncated)
    return Finding(
        id=RULE_ID,
        severity="error",
        certainty="proven",
        title=f"{name} cannot be sent back from a worker",
        message=message,
        pids=pids,
        locations=locations,
        evidence=lines,
        hint=HINT,
    )
