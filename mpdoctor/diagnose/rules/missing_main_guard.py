"""missing-main-guard: a spawn or forkserver child died re-importing the main module.

A spawn (or forkserver) child imports the program's main module again, as `__mp_main__`, to
find the functions it was sent. Module-level code runs again there: a line that starts
processes raises multiprocessing's "bootstrapping phase" RuntimeError, a module-level
set_start_method() raises "context has already been set". A bare Process then exits 1, a Pool
replaces its workers forever (mpdoctor stops that loop), an executor breaks. The probe records
the child's uncaught exception; its module-level frame is the line to move under the guard.
"""

from __future__ import annotations

from mpdoctor.diagnose.causes import died_importing_main, module_frame
from mpdoctor.diagnose.evidence import Evidence, ProcessEvidence
from mpdoctor.diagnose.family import parent_of, short_label, start_location
from mpdoctor.diagnose.tracebacks import exception_text, short_path, short_type
from mpdoctor.diagnose.wording import location, plural, where
from mpdoctor.model import Finding, Frame, Hint

RULE_ID = "missing-main-guard"

HINT = Hint(
    fix=(
        "Put the code that starts processes (and set_start_method) under if __name__ == "
        '"__main__": at the end of the main module; call multiprocessing.freeze_support() '
        "first there in a frozen executable."
    ),
    why=(
        "Under spawn (the default on macOS and Windows) and forkserver (Linux from Python "
        "3.14), each child imports the main module again: module-level code runs again in "
        "every child."
    ),
    docs="https://docs.python.org/3/library/multiprocessing.html#the-spawn-and-forkserver-start-methods",
)


def check(evidence: Evidence) -> list[Finding]:
    groups: dict[tuple, list[ProcessEvidence]] = {}
    for proc in evidence.processes.values():
        if proc.key == evidence.main or not died_importing_main(proc):
            continue
        frame = module_frame(proc)
        parent = parent_of(proc, evidence)
        key = (parent.key if parent else None, frame and (frame.file, frame.line))
        groups.setdefault(key, []).append(proc)
    return [_finding(procs, evidence) for procs in groups.values()]


def _what_it_did(proc: ProcessEvidence, frame: Frame | None) -> str:
    exc = proc.exception
    assert exc is not None
    names = {f.function for f in exc.frames}
    at = f" at {where(frame)}" if frame else ""
    if "_check_not_importing_main" in names:
        return f"the module-level line{at} starts a process again in every child"
    if "set_start_method" in names:
        return f"the module-level set_start_method(){at} runs again in every child"
    return f"the main module raised {exception_text(exc)}{at} when the child re-imported it"


def _evidence(proc: ProcessEvidence) -> list[str]:
    """The child's frames from the main module's line inward, and the error's first sentence
    (the bootstrapping RuntimeError is 14 lines of advice this finding already gives)."""
    exc = proc.exception
    assert exc is not None
    frames = exc.frames
    module = module_frame(proc)
    start = frames.index(module) if module in frames else 0
    shown = [f"{f.function} ({short_path(f.file)}:{f.line})" for f in frames[start:]]
    if len(shown) > 4:  # the program's line, the call it made, and where it failed
        shown = [*shown[:2], "...", shown[-1]]
    chain = " -> ".join(shown)
    first_sentence = " ".join(exc.message.split()).split(". ")[0]
    return [f"child's stack: {chain}", f"{short_type(exc.type)}: {first_sentence}"]


def _finding(procs: list[ProcessEvidence], evidence: Evidence) -> Finding:
    first = procs[0]
    frame = module_frame(first)
    parent = parent_of(first, evidence)
    what = _what_it_did(first, frame)
    method = first.start_method or "spawn"
    message = (
        f"{plural(len(procs), 'child', 'children')} ({short_label(first)}"
        f"{' and others' if len(procs) > 1 else ''}) died while {method} re-imported the main "
        f"module: {what}."
    )
    if parent is not None and evidence.respawn_stopped_parent == parent.key.pid:
        message += " Its Pool kept replacing the workers that died, so mpdoctor stopped the run."
    locations = []
    if frame is not None:
        locations.append(location("module-level", frame, first.key.pid))
    started = start_location(first, evidence)
    if started is not None:
        locations.append(started)
    assert first.exception is not None
    return Finding(
        id=RULE_ID,
        severity="error",
        certainty="proven",
        title="processes started at import time of the main module",
        message=message,
        pids=sorted(p.key.pid for p in procs),
        locations=locations,
        evidence=_evidence(first),
        hint=HINT,
    )
