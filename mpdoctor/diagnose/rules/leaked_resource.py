"""leaked-resource: named semaphores or shared memory left for the resource tracker to clean up.

Evidence: the tracker's own warnings, "resource_tracker: There appear to be N leaked <kind>
objects to clean up at shutdown" (3.13 appends the names), its "'<name>': <error>" when a
clean-up failed, and a client's "process died unexpectedly, relaunching". One finding per
warning process, so one tracker's semaphore and shared-memory leaks read as one problem.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from mpdoctor.diagnose.evidence import Evidence, ResourceEvidence, WarningEvidence
from mpdoctor.diagnose.family import describe, process_at
from mpdoctor.diagnose.wording import location, plural
from mpdoctor.model import Finding, Hint, Location

RULE_ID = "leaked-resource"

HINT = Hint(
    fix=(
        "Let the creator call SharedMemory.close() and unlink() in a finally block (processes "
        "that only attach just close(); on 3.13+ they can pass track=False), and let processes "
        "holding multiprocessing locks, semaphores or queues exit normally instead of being "
        "killed."
    ),
    why=(
        "Named semaphores and shared memory live in /dev/shm until unlinked; whatever a "
        "process leaves behind stays allocated until the resource tracker cleans it at shutdown, "
        "or forever when the tracker is killed too."
    ),
    docs=(
        "https://docs.python.org/3/library/multiprocessing.shared_memory.html"
        "#multiprocessing.shared_memory.SharedMemory.unlink"
    ),
)

# Semaphores alone: the shared-memory advice and link would be beside the point.
SEMAPHORE_HINT = Hint(
    fix=(
        "Let processes holding multiprocessing locks, semaphores, queues or pools exit normally "
        "(join them, close() and join() pools) instead of killing them with terminate() or "
        "SIGKILL while they create or hold one."
    ),
    why=(
        "Every multiprocessing lock, semaphore, condition, event and queue is a named semaphore "
        "in /dev/shm; one whose process was killed stays allocated until the resource tracker "
        "cleans it at shutdown, or forever when the tracker is killed too."
    ),
    docs="https://docs.python.org/3/library/multiprocessing.html#programming-guidelines",
)

_PREFIX = "resource_tracker:"
_LEAK = re.compile(
    r"^resource_tracker: There appear to be (\d+) leaked (\w+) objects to clean up at shutdown"
    r"(?::\s*(.*))?$",
    re.DOTALL,
)
_CLEANUP_FAILED = re.compile(r"^resource_tracker: ('[^']*'|\"[^\"]*\"): (.*)$", re.DOTALL)
_TRACKER_DIED = "resource_tracker: process died unexpectedly"
_KINDS = {
    "semaphore": ("semaphore", "semaphores"),
    "shared_memory": ("shared memory segment", "shared memory segments"),
}
_NAMES_SHOWN = 10


@dataclass
class _Report:
    """What one resource tracker printed: leaks by kind, failed clean-ups, its death."""

    pid: int
    t_s: float
    leaks: list[tuple[str, int, list[str]]] = field(default_factory=list)  # kind, count, names
    failures: list[str] = field(default_factory=list)
    tracker_died: bool = False


def check(evidence: Evidence) -> list[Finding]:
    reports: dict[int, _Report] = {}
    for warning in sorted(evidence.warnings, key=lambda w: w.t_s):
        if warning.message.startswith(_PREFIX):
            report = reports.setdefault(warning.pid, _Report(warning.pid, warning.t_s))
            _read(warning, report)
    return [
        _finding(r, evidence)
        for r in reports.values()
        if (r.leaks or r.tracker_died) and not _left_by_tear_down(r, evidence)
    ]


def _left_by_tear_down(report: _Report, evidence: Evidence) -> bool:
    """Every leaked resource's creator was ended by mpdoctor (a timeout, a stopped respawn
    loop): the leak is the tear-down's doing, not the program's."""
    leaked = _leaked(report, evidence)
    if not report.leaks or not leaked:
        return False
    creators = [process_at(evidence, r.pid, r.created_s) for r in leaked]
    return all(c is not None and c.ended_by_mpdoctor for c in creators)


def _read(warning: WarningEvidence, report: _Report) -> None:
    text = warning.message.strip()
    if leak := _LEAK.match(text):
        names = _names(leak.group(3))
        report.leaks.append((leak.group(2), int(leak.group(1)), names))
    elif failed := _CLEANUP_FAILED.match(text):
        report.failures.append(f"clean-up of {failed.group(1)} failed: {failed.group(2)}")
    elif text.startswith(_TRACKER_DIED):
        report.tracker_died = True


def _names(text: str | None) -> list[str]:
    """3.13 appends the set of names: "{'/mp-x1', '/psm_2f'}"."""
    if not text:
        return []
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return [text]
    if isinstance(value, (set, frozenset, list, tuple)):
        return sorted(str(v) for v in value)
    return [str(value)]


def _kind(kind: str, count: int) -> str:
    one, many = _KINDS.get(kind, (f"{kind} object", f"{kind} objects"))
    return plural(count, one, many)


def _leaked(report: _Report, evidence: Evidence) -> list[ResourceEvidence]:
    """The registrations still open when the tracker warned."""
    kinds = {kind for kind, _, _ in report.leaks}
    return [
        r
        for r in evidence.resources
        if r.rtype in kinds
        and r.created_s <= report.t_s
        and (r.unregistered_s is None or r.unregistered_s > report.t_s)
    ]


def _creation_sites(report: _Report, evidence: Evidence) -> list[Location]:
    """The user's lines that created what was still registered when the tracker warned."""
    seen: set[tuple[str, int]] = set()
    sites = []
    for res in _leaked(report, evidence):
        if res.site is not None and (res.site.file, res.site.line) not in seen:
            seen.add((res.site.file, res.site.line))
            sites.append(location("created", res.site, res.pid))
    return sites


def _finding(report: _Report, evidence: Evidence) -> Finding:
    proc = process_at(evidence, report.pid, report.t_s)
    who = describe(proc, evidence) if proc is not None else f"pid {report.pid}"
    lines = []
    for kind, count, names in report.leaks:
        shown = ", ".join(names[:_NAMES_SHOWN])
        more = f" and {len(names) - _NAMES_SHOWN} more" if len(names) > _NAMES_SHOWN else ""
        lines.append(f"{kind}: {count} leaked" + (f" ({shown}{more})" if names else ""))
    lines += report.failures
    if report.leaks:
        what = " and ".join(_kind(kind, count) for kind, count, _ in report.leaks)
        message = (
            f"The resource tracker (pid {report.pid}) found {what} still registered at "
            "shutdown: the processes that created them never unlinked them, so the tracker did."
        )
        if report.failures:
            message += " Some were already gone (unlinked by another process that attached)."
        title = f"{what} leaked"
        certainty = "proven"
    else:
        message = (
            f"{who[0].upper()}{who[1:]} found its resource tracker dead and started a new one: "
            "semaphores and shared memory registered with the dead tracker are cleaned up by "
            "nobody."
        )
        title = "resource tracker died"
        certainty = "suspected"
        lines.append("warning: resource_tracker: process died unexpectedly, relaunching")
    return Finding(
        id=RULE_ID,
        severity="warning",
        certainty=certainty,
        title=title,
        message=message,
        pids=[report.pid],
        locations=_creation_sites(report, evidence),
        evidence=lines,
        hint=_hint(report),
    )


def _hint(report: _Report) -> Hint:
    kinds = {kind for kind, _, _ in report.leaks}
    return SEMAPHORE_HINT if kinds == {"semaphore"} else HINT
