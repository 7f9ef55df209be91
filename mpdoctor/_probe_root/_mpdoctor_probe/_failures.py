"""Failures the program prints: a process target's exception, the resource tracker's warnings.

* `BaseProcess._bootstrap` prints an exception escaping the target with
  `import traceback; traceback.print_exc()`. In multiprocessing children `traceback.print_exc`
  (looked up at call time) becomes a function that, only when called by `_bootstrap`, records
  `exception` with the text `traceback.format_exception` gives, then calls the original: the
  printed bytes are the original's. The `traceback` module is patched when it is imported
  (children that never fail never pay for importing it).
* In the resource tracker, `warnings.showwarning` records `warning` then calls the original.
"""

import sys

import _mpdoctor_probe as probe

_bootstrap_code = None


def arm_exception_capture(process) -> None:
    """In a multiprocessing child (from its _bootstrap): capture what _bootstrap prints."""
    global _bootstrap_code
    _bootstrap_code = process.BaseProcess._bootstrap.__code__
    from . import _imports

    _imports.watch("traceback")


def patch_print_exc(traceback) -> None:
    """Hook the traceback module (just imported, or already there) in a multiprocessing child."""
    if _bootstrap_code is None or getattr(traceback.print_exc, "_mpdoctor", False):
        return
    original = traceback.print_exc

    def print_exc(limit=None, file=None, chain=True):
        if _bootstrap_code is not None and sys._getframe(1).f_code is _bootstrap_code:
            _record_exception(traceback)
        return original(limit=limit, file=file, chain=chain)

    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(print_exc, attr, getattr(original, attr, None))
    print_exc._mpdoctor = True
    traceback.print_exc = print_exc


def _record_exception(traceback) -> None:
    if not probe.on:
        return
    try:
        etype, value, tb = sys.exc_info()
        try:
            message = str(value)
        except Exception:
            message = "<unprintable %s object>" % etype.__name__
        probe.emit(
            "exception",
            {
                "type": etype.__qualname__,
                "module": etype.__module__,
                "message": message,
                "traceback": "".join(traceback.format_exception(etype, value, tb)),
                "frames": [
                    {"file": fs.filename, "line": fs.lineno, "function": fs.name}
                    for fs in traceback.extract_tb(tb)
                ],
            },
        )
    except Exception:
        probe.disable()


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
