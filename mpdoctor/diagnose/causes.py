"""Causes of a child's death that rules of their own name, so that the generic rules
(process-crashed, worker-died) leave those children alone: one producer per finding."""

from __future__ import annotations

import re
from collections.abc import Callable

from mpdoctor.diagnose.evidence import Evidence, ExceptionInfo, ProcessEvidence
from mpdoctor.model import Frame

# "Can't get attribute 'f' on <module '__main__' (built-in)>" (3.8-3.11),
# "... (<class '_frozen_importlib.BuiltinImporter'>)>" (3.12+), "... from '/x.py'>" (a file)
_NOT_FOUND = re.compile(r"Can't get attribute '([^']+)' on <module '__main__'(.*)>", re.DOTALL)
DAEMONIC = "daemonic processes are not allowed to have children"
STDIN_EOF = "EOF when reading a line"


def module_frame(proc: ProcessEvidence) -> Frame | None:
    """The innermost module-level frame of the program's code in a child's traceback: the line
    a spawn child ran again while it re-imported the main module."""
    exc = proc.exception
    if exc is None:
        return None
    for frame in reversed(exc.frames):
        if frame.function == "<module>" and not frame.file.startswith("<"):
            return frame
    return None


def died_importing_main(proc: ProcessEvidence) -> bool:
    """The child died while multiprocessing re-imported the main module in it."""
    exc = proc.exception
    if exc is None or exc.where != "uncaught":
        return False
    return any(
        f.function in ("_fixup_main_from_path", "_fixup_main_from_name", "import_main_path")
        and f.file.endswith("spawn.py")
        for f in exc.frames
    )


def escaped_pool_worker(proc: ProcessEvidence) -> Frame | None:
    """The frame of Pool's worker() when an exception escaped it (task exceptions never do:
    worker() catches them): the initializer failed, or a task could not be unpickled."""
    exc = proc.exception
    if exc is None or exc.where != "target":
        return None
    for frame in exc.frames:
        if frame.function == "worker" and frame.file.endswith("pool.py"):
            return frame
    return None


def not_found_in_main(proc: ProcessEvidence) -> tuple[str, bool] | None:
    """(name, main has a file) when a child could not find what it was sent in `__main__`."""
    exc = proc.exception
    if exc is None or not exc.type.endswith("AttributeError"):
        return None
    match = _NOT_FOUND.search(exc.message)
    if match is None:
        return None
    return match.group(1), " from " in match.group(2)


def exceptions_matching(
    evidence: Evidence, matches: Callable[[ExceptionInfo], bool], *, children_only: bool = True
) -> list[tuple[ProcessEvidence, ExceptionInfo]]:
    """Each process's first exception (what ended it, or a task's) for which `matches` holds.
    `children_only` leaves the main process out: it only re-raises what a worker raised."""
    hits = []
    for proc in evidence.processes.values():
        if children_only and proc.key == evidence.main:
            continue
        for exc in [proc.exception, *proc.task_exceptions]:
            if exc is not None and matches(exc):
                hits.append((proc, exc))
                break
    return hits


def stdin_eof(exc: ExceptionInfo) -> bool:
    return exc.type.endswith("EOFError") and exc.message == STDIN_EOF


def daemonic_child(exc: ExceptionInfo) -> bool:
    return exc.type.endswith("AssertionError") and DAEMONIC in exc.message


def named_cause(proc: ProcessEvidence) -> bool:
    """The child died of a cause a specific rule names."""
    from mpdoctor.diagnose.rules.initializer_failed import is_initializer_failure
    from mpdoctor.diagnose.rules.manager_gone import used_dead_proxy

    exc = proc.exception
    return (
        died_importing_main(proc)
        or is_initializer_failure(proc)
        or not_found_in_main(proc) is not None
        or (exc is not None and (stdin_eof(exc) or daemonic_child(exc) or used_dead_proxy(exc)))
    )
