"""mpdoctor's probe: runs inside every Python process of the program's tree (3.8+).

Started by the `sitecustomize` beside this package when MPDOCTOR_SESSION is set. Standard
library only, no threads, never writes to stdout, never raises into the program (any error of
its own disables it in that process: `on` becomes False).

This module is what every probed process loads (each extra module costs about 0.1 ms, and the
whole probe is allowed 1 ms): the event log and three cheap entry points.

* Event log: `SESSION/events/<pid>-<ticks>.jsonl`, one line per event, each written with a
  single os.write to an O_APPEND descriptor, so a SIGKILL never leaves half an event. JSON is
  encoded by hand: importing `json` pulls in `re`, which alone costs more than the budget.
* Fork hook: a forked child closes the parent's descriptor and opens its own file.
* Stacks on demand: faulthandler dumps a thread's own stack into `SESSION/stacks/<pid>-<ticks>`
  when the monitor sends that thread the stack signal (MPDOCTOR_STACK_SIGNAL); a forked child
  registers its own file with its first event, and the monitor never signals a process before
  that.
* Audit hook: one set lookup per audited operation; os.kill, os.killpg and os.exec* go to
  `_audit`. A spawn child adds it when its Process starts (`watch_audits`).
* sys.meta_path finder: one set lookup per import; the few watched standard-library modules go
  to `_mp`, which runs the multiprocessing hooks once they are executed.
"""

import _signal
import _thread
import os
import sys
import time

# Modules whose import the probe hooks (`_mp.watch` adds traceback in multiprocessing
# children).
WATCHED = {
    "multiprocessing",
    "multiprocessing.process",
    "multiprocessing.util",
    "multiprocessing.pool",
    "multiprocessing.queues",
    "multiprocessing.resource_tracker",
    "multiprocessing.synchronize",
    "concurrent.futures.process",
}
_AUDITED = frozenset(("os.kill", "os.killpg", "os.exec"))

_started = False
on = False  # the probe is active in this process
pid = 0
_fd = -1
_ident = None  # (st_dev, st_ino) of our file: never write into a descriptor the program reused
_dir = None
_threads_at_fork = None  # threads alive in the parent when it forked (read by the child)
_fork_parent = None  # in a forked child not registered yet: the parent's pid
_stack_fd = -1  # faulthandler's file for the stack signal
_stack_ident = None
_stack_signal = 0
start_ident = None  # the thread that wrote `start` (its ident and native id are in it)

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)

# str.translate table: JSON escapes for control characters, quote and backslash.
_ESC = {i: "\\u%04x" % i for i in range(32)}
_ESC.update({9: "\\t", 10: "\\n", 13: "\\r", 34: '\\"'})
_ESC[92] = "\\\\"


_load_cached = None  # sitecustomize's loader: a module from its byte-code cache, or None
_code_of = None  # sitecustomize's reader: (code, cache path) of a source file, or None
_own_path = globals().get("__path__")  # what importlib passes the finder for our submodules


def start(load_cached=None, code_of=None) -> None:
    """Start recording in this process if MPDOCTOR_SESSION is set (sitecustomize calls this,
    lending its loader for `_mp` and its byte-code reader for the other modules)."""
    global _started, _load_cached, _code_of
    session = os.environ.get("MPDOCTOR_SESSION")
    if _started or not session or sys.version_info < (3, 8):
        return
    _started = True
    _load_cached, _code_of = load_cached, code_of
    if not _open_session(session):
        return
    try:
        os.register_at_fork(before=_before_fork, after_in_child=_after_fork_child)
        if list(getattr(sys, "argv", ())[:2]) != ["-c", "--multiprocessing-fork"]:
            watch_audits()  # a spawn child adds it when its Process starts (_mp)
        sys.meta_path.insert(0, Finder())
        if not WATCHED.isdisjoint(sys.modules):
            from . import _mp

            _mp.hook_imported()  # started late: multiprocessing is already there
    except Exception:
        disable()


_auditing = False


def watch_audits() -> None:
    """Add the audit hook (once; a fork child inherits it).

    A spawn child adds it only when its Process starts running: with a hook, every audited
    operation of the start-up (each import makes several) calls into Python, 1.7 M instructions
    in all, a quarter of what the probe cost a child, and what it watches (os.kill, os.exec*)
    does not happen before the target runs."""
    global _auditing
    if not _auditing:
        _auditing = True
        sys.addaudithook(_audit_hook)


def _audit_hook(event, args, _audited=_AUDITED):
    if event not in _audited:
        return
    if on:
        try:  # an audit hook's exception would reach the program's os.kill / os.exec*
            from . import _audit

            _audit.record(event, args)
        except Exception:
            disable()


class Finder:
    """sys.meta_path entry: hooks the watched modules, finds nothing itself."""

    def find_spec(self, name, path=None, target=None, _watched=WATCHED):
        if name not in _watched or not on:
            if path is _own_path and path is not None and _code_of is not None:
                return _own_spec(name)
            return None
        try:  # never fail the program's import (e.g. late in interpreter shutdown)
            _mp = _hooks()
        except Exception:
            disable()
            return None
        return _mp.hooked_spec(self, name, path, target)

    def invalidate_caches(self):
        pass


class _OwnLoader:
    """Loads one of the probe's modules through sitecustomize's `_mpdoctor_code`: from its
    byte-code cache, else from the session's, never compiled in every process (importlib's
    loader compiles each time a Python may not write the cache)."""

    def __init__(self, path):
        self.path = path

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        found = _code_of(self.path)
        if found is None:
            raise ImportError("cannot read " + self.path, name=module.__name__)
        exec(found[0], module.__dict__)


def _own_spec(name):
    path = os.path.join(_own_path[0], name.rpartition(".")[2] + ".py")
    spec = type(__spec__)(name, _OwnLoader(path), origin=path)
    spec.has_location = True
    return spec


def _hooks():
    """`_mp`, imported once: from its byte-code cache when sitecustomize lent its loader (the
    finder runs under importlib's import lock, as importlib's own loading would), else by a
    plain import."""
    module = sys.modules.get(__name__ + "._mp")
    if module is None and _load_cached is not None:
        module = _load_cached(__name__ + "._mp", os.path.join(__path__[0], "_mp.py"))
    if module is None:
        from . import _mp as module
    globals()["_mp"] = module  # as importlib sets a submodule on its package
    return module


# The event log


def encode(value) -> str:
    """JSON text of plain data (dict, list, tuple, str, int, float, bool, None).

    Every event goes through here: the common types are tested first, and a string that needs
    no escape (most of them) skips the translate."""
    t = type(value)
    if t is str:
        if value.isprintable() and '"' not in value and "\\" not in value:
            return '"' + value + '"'
        return '"' + value.translate(_ESC) + '"'
    if t is int:
        return int.__repr__(value)
    if t is dict:
        parts = []
        for k, v in value.items():
            if type(k) is not str or not k.isidentifier():  # the probe's keys need no escape
                k = encode(str(k))[1:-1]
            parts.append('"' + k + '":' + encode(v))
        return "{" + ",".join(parts) + "}"
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if t is list or t is tuple:
        return "[" + ",".join([encode(v) for v in value]) + "]"
    if t is float:
        return repr(value) if value - value == 0 else "null"  # inf and nan are not JSON
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, str):
        return encode(str.__str__(value))
    return encode("<%s>" % t.__name__)


def _open_session(session: str) -> bool:
    """Open this process's file under `session` and write `start`; False (disabled) on error."""
    global _dir
    try:
        _dir = os.path.join(session, "events")
        return _open(False)
    except Exception:
        disable()
        return False


def _self_stat(field):
    """Field `field` of /proc/self/stat, numbered as proc(5) does; None off Linux."""
    try:
        fd = os.open("/proc/self/stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    # The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return int(data[data.rindex(b")") + 2 :].split()[field - 3])


def _ticks():
    """Start time in clock ticks since boot (field 22), None off Linux."""
    return _self_stat(22)


def _open(forked: bool) -> bool:
    global on, pid, _fd, _ident, _fork_parent, start_ident
    ppid = os.getppid() if _fork_parent is None else _fork_parent
    _fork_parent = None
    pid = os.getpid()
    ticks = _ticks()
    tag = str(ticks) if ticks is not None else "x" + os.urandom(6).hex()
    fd = os.open(os.path.join(_dir, "%d-%s.jsonl" % (pid, tag)), _FLAGS, 0o600)
    st = os.fstat(fd)
    _fd, _ident, on = fd, (st.st_dev, st.st_ino), True
    stacks = _arm_stacks(tag)
    start_ident = _thread.get_ident()
    fields = {
        "ppid": ppid,
        "ticks": ticks,
        "argv": list(getattr(sys, "argv", ())),
        "exe": sys.executable,
        "py": "%d.%d.%d" % sys.version_info[:3],
        "forked": forked,
        "ident": start_ident,
        "tid": getattr(_thread, "get_native_id", os.getpid)(),
        "stacks": stacks,
    }
    if forked:
        fields["threads"] = _threads_at_fork
    emit("start", fields)
    return on


def _arm_stacks(tag: str):
    """Register faulthandler for the stack signal, writing to this process's own file.

    Returns {"fd", "signal"} for the `start` event (the monitor checks that the descriptor
    still points at our file before it signals), or None when stacks are off. A forked child
    replaces the registration it inherited, which wrote into its parent's file."""
    global _stack_fd, _stack_ident, _stack_signal
    old, _stack_fd = _stack_fd, -1
    if old >= 0 and _same_file(old, _stack_ident):
        os.close(old)
    try:
        signum = int(os.environ.get("MPDOCTOR_STACK_SIGNAL") or 0)
    except ValueError:
        signum = 0
    if signum <= 0:
        return None
    path = os.path.join(os.path.dirname(_dir), "stacks", "%d-%s" % (pid, tag))
    fd = os.open(path, _FLAGS, 0o600)
    import faulthandler

    # One thread at a time (the monitor sends it with tgkill): a thread dumps only its own
    # stack, which nothing else changes meanwhile. Walking the other threads' frames without
    # the GIL can read a thread state that another thread is freeing (SIGSEGV).
    faulthandler.register(signum, file=fd, all_threads=False, chain=False)
    st = os.fstat(fd)
    _stack_fd, _stack_ident, _stack_signal = fd, (st.st_dev, st.st_ino), signum
    return {"fd": fd, "signal": signum}


def _stack_signal_taken() -> bool:
    """The program installed its own Python handler for the stack signal: the monitor must
    not send it any more (it would run the program's handler). Checked at each event."""
    global _stack_fd
    handler = _signal.getsignal(_stack_signal)
    if handler is None or type(handler) is int:  # still ours (or SIG_DFL/IGN: SigCgt tells)
        return False
    _stack_fd = -1
    return True


def _same_file(fd: int, ident) -> bool:
    try:
        st = os.fstat(fd)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == ident


def emit(kind: str, fields: dict) -> None:
    """Append one event; never raises (an error disables the probe)."""
    if not on:
        return
    if _fork_parent is not None and not _register_forked():
        return
    try:
        if _stack_fd >= 0 and _stack_signal_taken():
            emit("stacks-off", {"signal": _stack_signal})
        event = {"e": kind, "t": time.time(), "pid": pid}
        event.update(fields)
        # backslashreplace turns a lone surrogate (undecodable argv, path) into a JSON \\udcXX.
        data = (encode(event) + "\n").encode("utf-8", "backslashreplace")
        st = os.fstat(_fd)
        if (st.st_dev, st.st_ino) != _ident:
            _lost()  # the program closed our fd and reused the number: not ours any more
            return
        while data:
            data = data[os.write(_fd, data) :]
    except Exception:
        disable()


def _lost() -> None:
    global on, _fd
    on, _fd = False, -1


def disable() -> None:
    """Stop recording in this process, closing our descriptor if it is still ours."""
    global on, _fd
    on = False
    fd, _fd = _fd, -1
    if fd < 0:
        return
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) == _ident:
            os.close(fd)
    except Exception:
        pass


def _before_fork() -> None:
    """os.register_at_fork(before=...): count threads, for the child's `start` event, and
    record the other threads' stacks when some are not multiprocessing's (`_forks`)."""
    global _threads_at_fork
    threading = sys.modules.get("threading")
    try:
        python_threads = (
            len(threading._active) + len(threading._limbo) if threading is not None else 1
        )
        # /proc counts native threads too (BLAS, OpenMP): they can hold locks as well
        _threads_at_fork = max(python_threads, _native_threads() or 0)
        if _threads_at_fork > 1 and on and threading is not None:
            from . import _forks

            _forks.record(threading, _threads_at_fork)
    except Exception:
        _threads_at_fork = None


def _native_threads():
    """Threads of this process, native ones included (field 20), None off Linux."""
    return _self_stat(20)


def _after_fork_child() -> None:
    """os.register_at_fork(after_in_child=...): the child registers at its first event.

    Nothing is allocated here on purpose. Temporaries that a fork hook creates and frees can
    leave the allocator's current pool for small objects nearly empty. A worker's arithmetic
    loop then empties and refills that pool on every iteration. Measured with callgrind on a
    Pool worker: +12 M instructions in _PyObject_Free, +10 % CPU.
    """
    global _fork_parent
    if on:
        _fork_parent = pid  # still the parent's pid: the real parent, even if reparented later


def _register_forked() -> bool:
    """A forked child's first event: close the parent's file, open its own, write `start`."""
    global _fd
    try:
        fd, _fd = _fd, -1
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) == _ident:
            os.close(fd)  # the parent's file: a child never writes into it
        return _open(True)
    except Exception:
        disable()
        return False
