"""Shared wording for the pickling rules: members, the call that sent them, early deaths."""

from __future__ import annotations

from mpdoctor.diagnose.evidence import (
    Evidence,
    PicklingEvidence,
    UnpicklableMember,
)
from mpdoctor.diagnose.wording import location, where
from mpdoctor.model import Location

SENT_WHATS = ("task", "call", "process", "object")
_MEMBERS_SHOWN = 12


def sent_failures(evidence: Evidence) -> list[PicklingEvidence]:
    """Failures to send something to a child, one per process and call (a Pool reports the
    first failing task of a map; a process may fail several calls in turn)."""
    seen: set[tuple] = set()
    out = []
    # An executor call is recorded by the feeder thread that failed it, without a line, and
    # again with the program's line when the error reached the top uncaught: keep the latter.
    placed = {(f.pid, f.what, f.error) for f in evidence.pickling if f.site is not None}
    for failure in evidence.pickling:
        if failure.what not in SENT_WHATS:
            continue
        if failure.site is None and (failure.pid, failure.what, failure.error) in placed:
            continue
        key = (failure.pid, failure.api, failure.site and (failure.site.file, failure.site.line))
        if key not in seen:
            seen.add(key)
            out.append(failure)
    return out


_SENDERS = {
    "task": "the Pool",
    "call": "ProcessPoolExecutor",
    "process": "Process.start()",
    "object": "multiprocessing",
}


def sender(failure: PicklingEvidence) -> str:
    """Who failed to send: the call the program made ("Pool.map()"), or, when the program was
    only waiting for the result there, the machinery that sends ("ProcessPoolExecutor")."""
    if failure.api and not failure.awaited:
        return f"{failure.api}()"
    return _SENDERS.get(failure.what, "multiprocessing")


def call_text(failure: PicklingEvidence) -> str:
    """ "Pool.map() at app.py:12", or "ProcessPoolExecutor (raised at Future.result() at
    app.py:9)" when the program's line only waited for the result."""
    if failure.site is None:
        return sender(failure)
    if failure.awaited and failure.api:
        return f"{sender(failure)} (raised at {failure.api}() at {where(failure.site)})"
    return f"{sender(failure)} at {where(failure.site)}"


def call_location(failure: PicklingEvidence) -> Location | None:
    if failure.site is None:
        return None
    return location("awaited" if failure.awaited else "sent", failure.site, failure.pid)


def defined_location(member: UnpicklableMember, pid: int) -> Location | None:
    d = member.defined
    if d is None or d.line is None:
        return None
    return Location(role="defined", file=d.file, line=d.line, pid=pid, function=member.name)


def member_line(member: UnpicklableMember) -> str:
    """ "iterable[0] -> Counter.guard (_thread.lock): TypeError: cannot pickle ..."."""
    what = member.type
    if member.kind == "callable":
        what = f"{'an instance of ' if member.instance else ''}{member.name or member.type}"
        if member.defined is not None:
            line = f":{member.defined.line}" if member.defined.line else ""
            what += f", defined at {member.defined.file}{line}"
    return f"{member.path} ({what}): {member.reason}"


def member_lines(members: list[UnpicklableMember], truncated: bool) -> list[str]:
    lines = [member_line(m) for m in members[:_MEMBERS_SHOWN]]
    if len(members) > _MEMBERS_SHOWN:
        lines.append(f"... and {len(members) - _MEMBERS_SHOWN} more")
    if truncated:
        lines.append("the search stopped at its step budget: there may be more")
    return lines
