"""process-crashed: a child process ended badly: an unhandled exception, a non-zero exit code,
or a signal (SIGKILL, SIGSEGV...).

Not findings: the main process (its end is the run's outcome); pool and executor workers
(worker-died reports those); a Manager's server whose death broke proxies the program still
used (manager-gone reports it); ends somebody asked for (a Pool's terminate,
Process.terminate(), mpdoctor's tear-down, Ctrl-C); the resource tracker's exit code, which only
says it cleaned up leaks (leaked-resource reports those); and the exit codes of programs that
multiprocessing did not start (`subprocess.run(["grep", ...])` returns 1 to a caller that
checks it).
"""

from __future__ import annotations

from dataclasses import replace

from mpdoctor.diagnose.causes import named_cause
from mpdoctor.diagnose.evidence import Evidence, ProcessEvidence
from mpdoctor.diagnose.exits import (
    Death,
    death_of,
    describe,
    is_deliberate,
    killer_of,
    sender_unknowable,
    start_and_kill_locations,
)
from mpdoctor.diagnose.family import label, parent_of, short_label
from mpdoctor.diagnose.roles import classify_all
from mpdoctor.diagnose.rules.manager_gone import explained_server_deaths
from mpdoctor.diagnose.signals import FAULT_SIGNALS, SIGKILL
from mpdoctor.diagnose.tracebacks import clipped_traceback, exception_text, short_type, user_frame
from mpdoctor.diagnose.wording import location, where
from mpdoctor.model import Finding, Hint

RULE_ID = "process-crashed"

_CHECK_EXITCODE = (
    "Check Process.exitcode after join() and handle the error in the parent, or run the work "
    "through concurrent.futures, whose result() re-raises the child's exception"
)
HINT = Hint(
    fix=_CHECK_EXITCODE + ".",
    why=(
        "multiprocessing prints a crashed child's traceback, but join() returns normally and "
        "the parent carries on with the child's work silently missing."
    ),
    docs="https://docs.python.org/3/library/multiprocessing.html#multiprocessing.Process.exitcode",
)

# The fix depends on how it died: a SIGKILL nobody in the program sent is most often the OOM
# killer; a fault signal is native code crashing.
SIGKILL_HINT = replace(
    HINT,
    fix=_CHECK_EXITCODE + "; a SIGKILL that no process of the program sent is most often the "
    "OOM killer: give each process less data to hold (chunks, not whole datasets).",
)
FAULT_HINT = replace(
    HINT,
    fix=_CHECK_EXITCODE + "; a fault signal is native code crashing (an extension module, "
    "ctypes, a library that is not fork-safe under the fork start method): run with "
    "PYTHONFAULTHANDLER=1 to get the child's stack, or try the spawn start method.",
)

_WORKERS = {"pool-worker", "executor-worker"}
# Roles multiprocessing (or os.fork) created: their exit codes are nobody's deliberate answer.
_MP_STARTED = {"fork-child", "spawn-child", "forkserver-child", "manager", "forkserver"}
# Signals that mean a crash whoever started the process.
_CRASH_SIGNALS = FAULT_SIGNALS | {SIGKILL}


def check(evidence: Evidence) -> list[Finding]:
    findings = []
    roles = classify_all(evidence)
    explained = explained_server_deaths(evidence)  # manager-gone names them
    for proc in evidence.processes.values():
        if proc.key == evidence.main or proc.key in explained:
            continue
        death = death_of(proc)
        if death is None or is_deliberate(proc, death) or named_cause(proc):
            continue
        if _orphaned_by_tear_down(proc, evidence):
            continue
        role = roles[proc.key]
        if role in _WORKERS or not _reportable(role, death):
            continue
        findings.append(_finding(proc, death, role, evidence))
    return findings


def _orphaned_by_tear_down(proc: ProcessEvidence, evidence: Evidence) -> bool:
    """A spawn child whose parent mpdoctor ended before it sent the child its data: the child
    reads end of file ("EOFError: Ran out of input" in spawn's _main). The tear-down's doing."""
    exc = proc.exception
    if exc is None or not exc.type.endswith("EOFError"):
        return False
    if not any(f.function == "_main" and f.file.endswith("spawn.py") for f in exc.frames):
        return False
    parent = parent_of(proc, evidence)
    return parent is not None and parent.ended_by_mpdoctor


def _reportable(role: str, death: Death) -> bool:
    if role == "resource-tracker":
        return death.signal is not None
    if role in _MP_STARTED:
        return True
    return death.signal in _CRASH_SIGNALS


def _finding(proc: ProcessEvidence, death: Death, role: str, evidence: Evidence) -> Finding:
    who = label(proc)
    short = short_label(proc)
    how, lines = describe(proc, death, evidence)
    locations = []
    exc = proc.exception
    if exc is not None:
        frame = user_frame(exc.frames)
        at = f" at {where(frame)}" if frame else ""
        message = f"{who} raised {exception_text(exc)}{at} and {how}."
        title = f"{short} raised {short_type(exc.type)}"
        if frame is not None:
            locations.append(location("raised", frame, proc.key.pid))
        lines.append(clipped_traceback(exc.traceback))
    else:
        message = f"{who} {how}."
        title = f"{short} {_short_how(how)}"
    if proc.target:
        message = message[:-1] + f" (target {proc.target})."
    locations += start_and_kill_locations(proc, death, evidence)
    lines.insert(0, f"role: {role}")
    weak = sender_unknowable(proc, death, evidence)
    if weak:
        message += " Its parent ran without the probe, so this may be the parent's own clean-up."
    return Finding(
        id=RULE_ID,
        severity="warning" if weak else "error",
        certainty="suspected" if weak else "proven",
        title=title,
        message=message,
        pids=[proc.key.pid],
        locations=locations,
        evidence=lines,
        hint=_hint(death, killer_of(proc, death) is not None),
    )


def _hint(death: Death, sender_known: bool) -> Hint:
    if death.signal == SIGKILL and not sender_known:
        return SIGKILL_HINT
    if death.signal in FAULT_SIGNALS and not sender_known:
        return FAULT_HINT
    return HINT


def _short_how(how: str) -> str:
    """For titles: "was killed by SIGKILL, possibly by the OOM killer" -> "killed by SIGKILL"."""
    how = how.removeprefix("was ")
    return how.split(",", 1)[0].split(" sent by ", 1)[0].split(" it sent itself", 1)[0]
