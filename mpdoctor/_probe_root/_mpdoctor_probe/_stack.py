"""Reading the caller's stack: the user's line (`site`) and which machinery is acting.

"Internal" frames are those of multiprocessing, concurrent.futures, threading and the probe;
the site is the first frame outside them. Only the contiguous run of internal frames between
the observed call and the user's code is classified, so a pool worker's own task code that
calls os.kill is "user", not "pool".
"""

import os
import sys

_PROBE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _module_file(name):
    module = sys.modules.get(name)
    return getattr(module, "__file__", None) if module is not None else None


def _module_dir(name):
    path = _module_file(name)
    return os.path.dirname(path) + os.sep if path else None


class _Files:
    """Paths of the internal modules, read from the imported modules themselves."""

    def __init__(self):
        self.mp_dir = _module_dir("multiprocessing")
        self.cf_dir = _module_dir("concurrent.futures")
        self.threading = _module_file("threading")
        mp = self.mp_dir or "\0"
        self.pool = mp + "pool.py"
        self.managers = mp + "managers.py"
        self.process = mp + "process.py"
        self.util = mp + "util.py"
        self.cf_process = (self.cf_dir or "\0") + "process.py"
        self.prefixes = tuple(p for p in (self.mp_dir, self.cf_dir, _PROBE_DIR) if p)

    def internal(self, filename: str) -> bool:
        return filename.startswith(self.prefixes) or filename == self.threading


_files = None


def files() -> _Files:
    """Internal paths; recomputed when multiprocessing or concurrent.futures was imported since
    (not at every call: a program that never imports concurrent.futures starts many children)."""
    global _files
    modules = sys.modules
    if (
        _files is None
        or (_files.mp_dir is None and "multiprocessing" in modules)
        or (_files.cf_dir is None and "concurrent.futures" in modules)
    ):
        _files = _Files()
    return _files


def site(frame) -> "dict | None":
    """{file, line, function} of `frame`, or None."""
    if frame is None:
        return None
    code = frame.f_code
    return {"file": code.co_filename, "line": frame.f_lineno, "function": code.co_name}


def outside(frame, fs: _Files):
    """The first frame from `frame` outward that is not internal (None if there is none)."""
    while frame is not None and fs.internal(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def kill_context(frame) -> tuple:
    """(via, site, pool list, exiting) for an os.kill called from `frame`.

    via: pool-terminate | executor-shutdown | manager-shutdown | mp-exit (multiprocessing's
    exit handler terminating daemonic children) | process-terminate (Process.terminate/kill
    called by the program) | user (a bare os.kill). The innermost machinery wins: a pool's
    finalizer run by the exit handler is still pool-terminate.
    """
    fs = files()
    via = None
    terminate = False
    pool_list = None
    exiting = False
    f = frame
    while f is not None and fs.internal(f.f_code.co_filename):
        filename = f.f_code.co_filename
        name = f.f_code.co_name
        if via is None:
            if filename == fs.pool:
                via = "pool-terminate"
            elif filename == fs.cf_process:
                via = "executor-shutdown"
            elif filename == fs.managers:
                via = "manager-shutdown"
            elif filename == fs.util and name == "_exit_function":
                via = "mp-exit"
            elif filename == fs.process and name in ("terminate", "kill"):
                terminate = True
        if filename == fs.pool and name == "_terminate_pool" and pool_list is None:
            pool_list = f.f_locals.get("pool")
        if filename == fs.util and name == "_exit_function":
            exiting = True
        f = f.f_back
    if via is None:
        via = "process-terminate" if terminate else "user"
    return via, site(f), pool_list, exiting
