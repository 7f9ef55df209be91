"""`fork-threads`: a fork while threads other than multiprocessing's ran (loaded only then).

A lock one of them held at the fork stays locked forever in the child. The event names those
threads with their stacks at that moment; the child's `start` says how many threads there
were. multiprocessing's own threads (a Pool's handlers, a Queue's feeder) are left out: they
run whenever a Pool replaces a worker, and their locks are reset in the child.

The stacks come from faulthandler's dump, never from sys._current_frames(): that makes frame
objects of the other threads' running frames, and on 3.12 one made while its thread was ending
crashed the interpreter's final garbage collection (SIGSEGV after "deallocated BytesIO object
has exported buffers"), in about 1 run of 100 of a Pool that replaces its workers.
"""

import faulthandler
import os
import sys

from . import emit

_MAX_FRAMES = 30
_OWN = ("multiprocessing", "concurrent.futures")


def record(threading, total: int) -> None:
    current = threading.get_ident()
    threads = [
        thread
        for thread in list(threading._active.values())
        if thread.ident != current and not _left_out(thread)
    ]
    stacks = _stacks() if threads else {}
    others = [
        {"ident": thread.ident, "name": thread.name, "stack": stacks.get(thread.ident, [])}
        for thread in threads
    ]
    python_threads = len(threading._active)
    if others or total > python_threads:
        emit("fork-threads", {"total": total, "threads": others})


def _left_out(thread) -> bool:
    """multiprocessing's own threads, and a thread whose run() has returned (Thread.run deletes
    `_target` then): it is ending, and runs none of the program's code."""
    if not hasattr(thread, "_target"):
        return True
    target = thread._target
    module = getattr(target, "__module__", None) or type(thread).__module__ or ""
    return module.startswith(_OWN)


def _stacks() -> dict:
    """{thread ident: [frame, innermost first]} from faulthandler's dump of every thread (at
    most 100, the newest first: faulthandler's limit), read back from a memory file, else from
    a file in the session; {} on any error. Not on a free-threaded build: the other threads
    run on while faulthandler reads their frames."""
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    if is_gil_enabled is not None and not is_gil_enabled():
        return {}
    try:
        fd = _scratch_file()
        if fd is None:
            return {}
        try:
            faulthandler.dump_traceback(fd, all_threads=True)
            data = os.pread(fd, os.lseek(fd, 0, os.SEEK_CUR), 0)  # a local file reads whole
        finally:
            os.close(fd)
        return parse_dump(data.decode("ascii", "replace"))
    except Exception:
        return {}


def _scratch_file():
    """A descriptor of an empty file nothing else can open: a memfd (Linux), else a file of
    the session's, unlinked at once (no memfd_create: macOS, old kernels, some sandboxes)."""
    try:
        return os.memfd_create("mpdoctor-fork-threads", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        pass
    from . import _dir

    if not _dir:
        return None
    path = os.path.join(_dir, ".fork-threads-%d" % os.getpid())
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600)
    os.unlink(path)
    return fd


def parse_dump(text: str) -> dict:
    """faulthandler's `Thread 0x...` / `Current thread 0x...` headers, each followed by its
    `  File "PATH", line N in FUNCTION` lines (innermost first)."""
    stacks = {}
    stack = None
    for line in text.splitlines():
        if line.startswith(("Thread 0x", "Current thread 0x")):
            token = line.split("0x", 1)[1].split(" ", 1)[0]
            try:
                stack = stacks.setdefault(int(token, 16), [])
            except ValueError:
                stack = None
        elif stack is not None and line.startswith('  File "') and len(stack) < _MAX_FRAMES:
            file, _, rest = line[len('  File "') :].rpartition('", line ')
            number, _, function = rest.partition(" in ")
            if file and number.isdigit():
                frame = {"file": _unescaped(file), "line": int(number)}
                frame["function"] = _unescaped(function)
                stack.append(frame)
    return stacks


def _unescaped(text: str) -> str:
    """faulthandler writes a character beyond ASCII as \\xNN, \\uNNNN or \\UNNNNNNNN."""
    if "\\" not in text:
        return text
    try:
        return text.encode("ascii").decode("unicode_escape")
    except (UnicodeError, ValueError):
        return text
