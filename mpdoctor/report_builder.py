"""Evidence + findings -> the Report that renderers show and `--report` saves.

Processes come as a tree (parents before children, siblings by start time) with their roles;
command lines are redacted, and so are secrets of known shapes in findings' text; times are
rounded to what the measurements resolve (CPU time counts 10 ms clock ticks; event times are
no finer than a millisecond).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from mpdoctor import __version__
from mpdoctor.diagnose.evidence import Evidence, ProcessEvidence
from mpdoctor.diagnose.family import name_of, tree_order
from mpdoctor.diagnose.roles import classify_all
from mpdoctor.model import Environment, Finding, Outcome, ProcessInfo, Report, Tool
from mpdoctor.redact import redact_cmdline, redact_text

_TIME_DIGITS = 3  # seconds since launch: milliseconds
_CPU_DIGITS = 2  # CPU seconds: clock ticks are 10 ms


def build_report(
    evidence: Evidence,
    outcome: Outcome,
    environment: Environment,
    command: Sequence[str],
    findings: Sequence[Finding],
    notes: Sequence[str] = (),
) -> Report:
    roles = classify_all(evidence)
    return Report(
        tool=Tool(name="mpdoctor", version=__version__),
        environment=environment,
        command=redact_cmdline(command),
        outcome=replace(outcome, duration_s=_round(outcome.duration_s, _TIME_DIGITS) or 0.0),
        processes=[_process(proc, roles[proc.key]) for proc, _depth in tree_order(evidence)],
        findings=[_redacted(finding) for finding in findings],
        notes=_unique([*evidence.notes, *notes]),
    )


def _process(proc: ProcessEvidence, role: str) -> ProcessInfo:
    exit_code, signal = proc.exit_code, proc.signal
    if exit_code is not None and exit_code < 0 and signal is None:
        exit_code, signal = None, -exit_code  # multiprocessing's spelling of a signal
    return ProcessInfo(
        pid=proc.key.pid,
        ppid=proc.ppid,
        create_time=proc.key.create_time,
        role=role,
        name=name_of(proc) or "?",
        cmdline=redact_cmdline(proc.cmdline),
        state=proc.state,
        exit_code=exit_code,
        signal=signal,
        cpu_s=_round(proc.cpu_s, _CPU_DIGITS),
        peak_rss_bytes=proc.peak_rss_bytes,
        started_s=_round(proc.started_s, _TIME_DIGITS),
        ended_s=_round(proc.ended_s, _TIME_DIGITS),
        probed=proc.probed,
        python=proc.python,
    )


def _redacted(finding: Finding) -> Finding:
    """Exception messages and tracebacks may quote a URL with its password, a token, or a
    `password=...` assignment."""
    return replace(
        finding,
        title=redact_text(finding.title),
        message=redact_text(finding.message),
        evidence=[redact_text(line) for line in finding.evidence],
    )


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
