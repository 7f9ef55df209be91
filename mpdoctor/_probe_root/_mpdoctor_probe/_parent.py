"""Children as their parent sees them: `child-start` and `child-exit`, with the user's line.

Loaded by `_mp`'s sets at the first Process a parent creates, so a child that starts no process
of its own never loads it.
"""

import sys
import time

import _mpdoctor_probe as probe

_popens = {}  # id(process) -> its Popen while in _children (close() drops p._popen first)
_pool_workers = {}  # id(process) -> time.time() at start, for pool workers
# A pool worker that ends with an error this soon after its start never did any work: Pool
# replaces it at once, so the monitor counts these to stop a respawn loop.
EARLY_DEATH_S = 1.0
_targets = {}  # id(process) -> target name, from Process.__init__ until start()


def forget() -> None:
    """In a new child: the parent's bookkeeping is not ours."""
    _popens.clear()
    _targets.clear()
    _pool_workers.clear()


def note_target(process) -> None:
    try:
        if len(_targets) > 10000:
            _targets.clear()  # processes created and never started: forget them
        _targets[id(process)] = _target_name(process)
    except Exception:
        probe.disable()


def _target_name(process) -> "str | None":
    target = process.__dict__.get("_target")
    if target is None:
        run = type(process).run
        if run is sys.modules["multiprocessing.process"].BaseProcess.run:
            return None
        target = run  # a Process subclass overriding run()
    func = getattr(target, "func", None)  # functools.partial
    if func is not None and type(target).__name__ == "partial":
        target = func
    module = getattr(target, "__module__", None)
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    if not isinstance(name, str):
        return type(target).__qualname__
    return module + "." + name if isinstance(module, str) else name


def started(process, start_frame) -> None:
    try:
        popen = process._popen
        _popens[id(process)] = popen
        _watch_joins(type(popen))
        kind, pool, site = _start_context(process, start_frame.f_back)
        if kind == "pool-worker":
            _pool_workers[id(process)] = time.time()
        probe.emit(
            "child-start",
            {
                "child": popen.pid,
                "name": process.name,
                "method": getattr(popen, "method", None),
                "daemon": bool(process.daemon),
                "kind": kind,
                "pool": pool,
                "target": _targets.pop(id(process), None),
                "site": site,
            },
        )
    except Exception:
        probe.disable()


class _JoinWatch:
    """Stands for `Popen.wait` on its class: when `BaseProcess.join` looks it up, `join` is
    recorded (the child, the joining thread) and the original method is returned, so nothing
    of ours is ever on the stack when the join waits, raises or is interrupted. Under the fork
    server a join waits in a read, not in wait4: this event says for which child."""

    def __init__(self, wait, join_code):
        self.wait, self.join_code = wait, join_code
        self.last = None  # (child, thread): a join(timeout) polling loop is recorded once

    def __get__(self, popen, cls=None):
        if popen is not None and probe.on:
            try:
                if sys._getframe(1).f_code is self.join_code:
                    joining = (popen.pid, _thread_ident())
                    if joining != self.last:
                        self.last = joining
                        probe.emit("join", {"child": joining[0], "ident": joining[1]})
            except Exception:
                probe.disable()
        return self.wait if popen is None else self.wait.__get__(popen, cls)


def _thread_ident() -> int:
    import _thread

    return _thread.get_ident()


def _watch_joins(popen_class) -> None:
    for cls in popen_class.__mro__:
        wait = cls.__dict__.get("wait")
        if wait is None:
            continue
        if not isinstance(wait, _JoinWatch) and cls.__module__.startswith("multiprocessing."):
            join = sys.modules["multiprocessing.process"].BaseProcess.join
            cls.wait = _JoinWatch(wait, join.__code__)
        return


def reaped(process) -> None:
    try:
        popen = _popens.pop(id(process), None) or process._popen
        code = getattr(popen, "returncode", None)
        started = _pool_workers.pop(id(process), None)
        if code is None:
            return
        probe.emit("child-exit", {"child": popen.pid, "exitcode": code, "name": process.name})
        # 0: a worker retired (maxtasksperchild); -15: the pool's own terminate(); -2: Ctrl-C
        if (
            started is not None
            and code not in (0, -15, -2)
            and time.time() - started < EARLY_DEATH_S
        ):
            from . import _failures

            _failures.alert_early_death(probe.pid, popen.pid)
    except Exception:
        probe.disable()


def _start_context(process, frame) -> tuple:
    """(kind, pool id, site) of a child whose start() was called from `frame`.

    Pool workers are started by Pool._repopulate_pool_static, from Pool.__init__ (the Pool is
    the frame's `self`) or from the worker-handler thread's _maintain_pool (only the pool's
    worker list is at hand: pools are also found by the identity of that list). Executor
    workers by ProcessPoolExecutor._spawn_process / _adjust_process_count (`self`), manager
    servers by BaseManager.start.
    """
    from . import _stack

    fs = _stack.files()
    kind = "process"
    owner = None
    workers = None
    f = frame
    while f is not None and fs.internal(f.f_code.co_filename):
        filename = f.f_code.co_filename
        if filename == fs.pool:
            kind = "pool-worker"
            if owner is None:
                local = f.f_locals
                owner = _instance(local.get("self"), "multiprocessing.pool", "Pool")
                if workers is None and type(local.get("pool")) is list:
                    workers = local["pool"]
        elif filename == fs.cf_process:
            kind = "executor-worker"
            if owner is None:
                owner = _instance(
                    f.f_locals.get("self"), "concurrent.futures.process", "ProcessPoolExecutor"
                )
        elif filename == fs.managers and kind == "process":
            kind = "manager"
        f = f.f_back
    site = _stack.site(f)
    pool = None
    if kind in ("pool-worker", "executor-worker"):
        from . import _pools

        pool = _pools.pool_id(kind, owner, workers, process, site)
    return kind, pool, site


def _instance(obj, module_name, class_name):
    module = sys.modules.get(module_name)
    cls = getattr(module, class_name, None) if module is not None else None
    return obj if cls is not None and isinstance(obj, cls) else None
