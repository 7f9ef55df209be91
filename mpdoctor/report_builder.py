"""Evidence + findings -> the Report that renderers show and `--report` saves.

Processes come as a tree (parents before children, siblings by start time) with their roles;
command lines are redacted, and so are secrets of known shapes in findings' text; times are
rounded to what the measurements resolve (CPU time counts 10 ms clock ticks; event times are
no finer than a millisecond).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from mpdoctor import __version__
from mpdoctor.diagnose.evidence import (
    Evidence,
    HangSnapshot,
    PipeState,
    ProcessEvidence,
    ThreadState,
)
from mpdoctor.diagnose.family import name_of, tree_order
from mpdoctor.diagnose.roles import classify_all
from mpdoctor.diagnose.waitgraph import pipe_at
from mpdoctor.model import (
    Environment,
    Finding,
    LiveFigures,
    Outcome,
    ProcessInfo,
    Report,
    ThreadInfo,
    Tool,
    Wait,
)
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
        processes=[
            _with_threads(_process(proc, roles[proc.key]), proc, evidence.hang)
            for proc, _depth in tree_order(evidence)
        ],
        findings=[_redacted(finding) for finding in findings],
        notes=_unique([*evidence.notes, *notes]),
    )


def add_live_figures(report: Report, figures: Mapping[tuple[int, float], LiveFigures]) -> Report:
    """`mpdoctor inspect`: each live process's CPU%, RSS, threads and age, from `figures`
    keyed by (pid, create_time)."""
    for info in report.processes:
        live = figures.get((info.pid, info.create_time))
        if live is None:
            continue
        info.cpu_percent = live.cpu_percent
        info.rss_bytes = live.rss_bytes
        info.num_threads = live.num_threads
        info.age_s = _round(live.age_s, _TIME_DIGITS)
    return report


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


def _with_threads(info: ProcessInfo, proc: ProcessEvidence, hang: HangSnapshot | None):
    """The threads of a process the hang snapshot saw: each one's wait and its stack (most
    recent call last, as a traceback reads); the main thread's wait is the process's."""
    if hang is None or proc.state == "zombie" or proc.key.pid not in hang.threads:
        return info
    pid = proc.key.pid
    since = _round(hang.t_s - hang.quiet_s, _TIME_DIGITS)
    stacks = {s.tid: s for s in hang.stacks.get(pid, []) if s.tid is not None}
    for state in hang.threads[pid]:
        stack = stacks.pop(state.tid, None)
        info.threads.append(
            ThreadInfo(
                ident=stack.ident if stack else None,
                native_id=state.tid,
                name=stack.name if stack else None,
                wait=wait_of(state, since, pipe_at(hang, pid, state.fd)),
                stack=list(reversed(stack.frames)) if stack else [],
            )
        )
    for stack in hang.stacks.get(pid, []):  # dumped, but no /proc entry matched its ident
        if stack.tid is None or stack.tid in stacks:
            info.threads.append(
                ThreadInfo(stack.ident, stack.tid, stack.name, None, list(reversed(stack.frames)))
            )
    main = next((t for t in info.threads if t.native_id == pid), None)
    info.wait = main.wait if main else None
    return info


def wait_of(state: ThreadState, since: float | None, pipe: PipeState | None) -> Wait | None:
    """The report's `wait` of one thread, from its decoded system call."""
    call = state.syscall
    if call is None or call == "running" or not state.readable:
        return None
    on: int | str | None = None
    if call in ("wait4", "waitid"):
        kind, on = "join", state.waits_for_pid
    elif state.fd is not None and call in ("read", "readv", "recvfrom", "recvmsg"):
        kind, on = ("pipe-read" if pipe else "read"), f"pipe:[{pipe.inode}]" if pipe else state.fd
    elif state.fd is not None and call in ("write", "writev", "sendto", "sendmsg"):
        kind, on = ("pipe-write" if pipe else "write"), f"pipe:[{pipe.inode}]" if pipe else state.fd
    elif call == "futex":
        kind, on = "futex", state.futex
    elif call in ("poll", "ppoll", "select", "pselect6", "epoll_wait", "epoll_pwait"):
        kind = "poll"
    elif call in ("nanosleep", "clock_nanosleep", "pause"):
        kind = "sleep"
    else:
        kind = call
    return Wait(kind=kind, on=on, since_s=since, timed=bool(state.timed))


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
