"""Diagnosis: Evidence in, findings out. Pure: no I/O, no psutil, no /proc, no clock."""

from __future__ import annotations

from mpdoctor.diagnose.evidence import Evidence
from mpdoctor.model import Finding

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def diagnose(evidence: Evidence) -> list[Finding]:
    """Every rule's findings, most severe first, then in the order things happened.

    A finding repeated with the same id and pids (two producers, or a rule seeing one fact
    twice) is kept once.
    """
    # Imported here: collectors import diagnose.evidence while the program runs, and must not
    # pay for the rules then.
    from mpdoctor.diagnose.rules import ALL_RULES

    when = _times(evidence)
    found: list[tuple[int, Finding]] = []
    seen: set[tuple[str, tuple[int, ...]]] = set()
    for order, rule in enumerate(ALL_RULES):
        for finding in rule.check(evidence):
            key = (finding.id, tuple(sorted(finding.pids)))
            if key not in seen:
                seen.add(key)
                found.append((order, finding))
    found.sort(
        key=lambda item: (
            _SEVERITY_ORDER.get(item[1].severity, len(_SEVERITY_ORDER)),
            min((when[pid] for pid in item[1].pids if pid in when), default=float("inf")),
            item[0],
        )
    )
    return [finding for _, finding in found]


def _times(evidence: Evidence) -> dict[int, float]:
    """When each pid's story happened: the earliest end (else start) of the processes that had
    it. A finding happened at the earliest time of the pids it names."""
    times: dict[int, float] = {}
    for proc in evidence.processes.values():
        t = proc.ended_s if proc.ended_s is not None else proc.started_s
        if t is not None:
            times[proc.key.pid] = min(t, times.get(proc.key.pid, t))
    return times
