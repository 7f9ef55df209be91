"""Failures the program prints: a process target's exception, the resource tracker's warnings.

* An exception escaping a process target, as `BaseProcess._bootstrap` is about to print it
  (`_mp._patch_print_exc` calls `record_exception`): `exception` with the text
  `traceback.format_exception` gives, the same text print_exc prints next.
* An exception a pool or executor task raised, as the worker sends it back (`_pickling` sees
  it being wrapped): `exception` with `where: task`, the first few per worker.
* An exception Python printed as uncaught in a process's main thread (the program's main, a
  spawn child failing before its target ran): `exception` with `where: uncaught`, recorded at
  exit from sys.last_value, then `_pickling` looks for a pickling failure in it.
* In the resource tracker, `warnings.showwarning` records `warning` then calls the original.
"""

import os
import sys

import _mpdoctor_probe as probe

# A child that dies in these never did any work: multiprocessing re-importing the main module
# in a spawn or forkserver child, unpickling the process object, a pool worker's set-up.
_SPAWN_SETUP = frozenset(("_fixup_main_from_path", "_fixup_main_from_name", "import_main_path",
                          "_main"))  # fmt: skip


def record_exception(traceback) -> None:
    """Called by the patched traceback.print_exc from _bootstrap."""
    if not probe.on:
        return
    try:
        etype, value, tb = sys.exc_info()
        frames = _emit_exception(traceback, etype, value, tb, "target")
        # (Exception only: a Ctrl-C's KeyboardInterrupt escaping every worker is no loop)
        escaped = any(f["function"] == "worker" and f["file"].endswith("pool.py") for f in frames)
        if escaped and issubclass(etype, Exception):
            # escaped Pool's worker() (which catches a task's own exceptions): the initializer
            # failed, or a task could not be unpickled
            _alert_early_death()
    except Exception:
        probe.disable()


def record_uncaught(exc) -> None:
    """At exit: the exception Python printed as uncaught in this process's main thread
    (sys.last_value), then what the pickling search makes of it."""
    import traceback

    frames = _emit_exception(traceback, type(exc), exc, exc.__traceback__, "uncaught")
    setting_up = any(
        f["function"] in _SPAWN_SETUP and f["file"].endswith("spawn.py") for f in frames
    )
    if setting_up and isinstance(exc, Exception):
        _alert_early_death()
    from . import _pickling

    _pickling.after_uncaught(exc)


_task_exceptions = 0
TASK_EXCEPTIONS_KEPT = 10  # per process: a task failing 100,000 times is one story


def task_exceptions_full() -> bool:
    return _task_exceptions >= TASK_EXCEPTIONS_KEPT


def record_task_exception(exc) -> None:
    """A pool or executor task raised `exc` (the worker is sending it back to the caller):
    `exception` with `where: task`, for the first few of each worker."""
    global _task_exceptions
    if _task_exceptions >= TASK_EXCEPTIONS_KEPT:
        return
    _task_exceptions += 1
    import traceback

    _emit_exception(traceback, type(exc), exc, exc.__traceback__, "task")


def record_initializer_exception(exc_info) -> None:
    """A ProcessPoolExecutor worker's initializer raised (logged, then the worker returns)."""
    import traceback

    etype, value, tb = exc_info
    _emit_exception(traceback, etype, value, tb, "initializer")


def _alert_early_death() -> None:
    alert_early_death(os.getppid(), os.getpid())


def alert_early_death(ppid, pid) -> None:
    """Tell the monitor at once that child `pid` of `ppid` died before doing any work (it
    counts these per parent to stop a respawn loop). The child and its parent may both say so:
    one file."""
    alerts = os.path.join(os.path.dirname(probe._dir), "alerts")
    try:
        fd = os.open(
            os.path.join(alerts, "%d-%d" % (ppid, pid)),
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
            0o600,
        )
    except OSError:  # already said (FileExistsError), or no alerts/ here: only an optimisation
        return
    os.close(fd)


def _emit_exception(traceback, etype, value, tb, where) -> list:
    try:
        message = str(value)
    except Exception:
        message = "<unprintable %s object>" % etype.__name__
    frames = [
        {"file": fs.filename, "line": fs.lineno, "function": fs.name}
        for fs in traceback.extract_tb(tb)
    ]
    probe.emit(
        "exception",
        {
            "type": etype.__qualname__,
            "module": etype.__module__,
            "message": message,
            "traceback": "".join(traceback.format_exception(etype, value, tb)),
            "frames": frames,
            "where": where,
        },
    )
    return frames


def watch_tracker_warnings() -> None:
    """In the resource tracker: record the warnings it shows (leaked semaphores, shm...)."""
    import warnings

    original = warnings.showwarning

    def showwarning(message, category, filename, lineno, file=None, line=None):
        _record_warning(message, category, filename, lineno)
        return original(message, category, filename, lineno, file, line)

    warnings.showwarning = showwarning


def _record_warning(message, category, filename, lineno) -> None:
    if not probe.on:
        return
    try:
        probe.emit(
            "warning",
            {
                "category": getattr(category, "__name__", str(category)),
                "message": str(message),
                "filename": str(filename),
                "lineno": lineno if type(lineno) is int else None,
            },
        )
    except Exception:
        probe.disable()


def record_excepthook_calls() -> None:
    """In the fork server: a child it forks that fails before its target runs (re-importing the
    main module, unpickling the process object) is printed by `sys.excepthook(*sys.exc_info())`
    and ends with os._exit, so no atexit runs. Ours records, then calls the hook it replaced
    with the same arguments: the printed bytes are the original's."""
    original = sys.excepthook

    def excepthook(etype, value, tb):
        if probe.on and isinstance(value, BaseException):
            try:
                record_uncaught(value)
            except Exception:
                probe.disable()
        return original(etype, value, tb)

    sys.excepthook = excepthook
