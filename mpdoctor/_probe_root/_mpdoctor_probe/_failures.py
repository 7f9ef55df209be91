"""Failures the program prints: a process target's exception, the resource tracker's warnings.

* An exception escaping a process target, as `BaseProcess._bootstrap` is about to print it
  (`_mp._patch_print_exc` calls `record_exception`): `exception` with the text
  `traceback.format_exception` gives, the same text print_exc prints next.
* In the resource tracker, `warnings.showwarning` records `warning` then calls the original.
"""

import sys

import _mpdoctor_probe as probe


def record_exception(traceback) -> None:
    """Called by the patched traceback.print_exc from _bootstrap."""
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
