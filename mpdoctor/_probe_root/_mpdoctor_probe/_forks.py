"""`fork-threads`: a fork while threads other than multiprocessing's ran (loaded only then).

A lock one of them held at the fork stays locked forever in the child. The event names those
threads with their stacks at that moment; the child's `start` says how many threads there
were. multiprocessing's own threads (a Pool's handlers, a Queue's feeder) are left out: they
run whenever a Pool replaces a worker, and their locks are reset in the child.
"""

import sys

from . import emit

_MAX_FRAMES = 30
_OWN = ("multiprocessing", "concurrent.futures")


def record(threading, total: int) -> None:
    current = threading.get_ident()
    frames = sys._current_frames()
    others = []
    for thread in list(threading._active.values()):
        if thread.ident == current or _multiprocessing_thread(thread):
            continue
        others.append(
            {"ident": thread.ident, "name": thread.name, "stack": _stack(frames.get(thread.ident))}
        )
    python_threads = len(threading._active)
    if others or total > python_threads:
        emit("fork-threads", {"total": total, "threads": others})


def _multiprocessing_thread(thread) -> bool:
    target = getattr(thread, "_target", None)
    module = getattr(target, "__module__", None) or type(thread).__module__ or ""
    return module.startswith(_OWN)


def _stack(frame) -> list:
    stack = []
    while frame is not None and len(stack) < _MAX_FRAMES:
        code = frame.f_code
        stack.append({"file": code.co_filename, "line": frame.f_lineno, "function": code.co_name})
        frame = frame.f_back
    return stack
