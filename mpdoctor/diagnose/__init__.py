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
            _when(item[1], evidence),
            item[0],
        )
    )
    return [finding for _, finding in found]


def _when(finding: Finding, evidence: Evidence) -> float:
    """When a finding happened: the earliest end (else start) of the processes it names."""
    times = [
        proc.ended_s if proc.ended_s is not None else proc.started_s
        for pid in finding.pids
        for proc in evidence.by_pid(pid)
    ]
    known = [t for t in times if t is not None]
    return min(known) if known else float("inf")
