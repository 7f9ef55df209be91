"""Children as their parent sees them, observed without adding frames to any traceback.

* `multiprocessing.process._children` becomes a `ChildSet`. `Process.start()` calls
  `_children.add(p)` only after Popen succeeded (-> `child-start`); `join()`, `is_alive()`,
  `close()` and `_cleanup()` call `_children.discard(p)` once the child is reaped
  (-> `child-exit` with `p._popen.returncode`). No program exception passes through either.
* `multiprocessing.process._dangling` (a WeakSet every Process joins in `__init__`) becomes a
  `DanglingSet` that notes the target's name: `start()` deletes `_target` before `add`.
* In a child, `_bootstrap` resets `_children = set()`, sets `_current_process`, builds
  `_ParentProcess(...)`, then runs the after-fork callbacks of `multiprocessing.util`. Ours
  (`_bootstrapped`) re-installs the ChildSet, writes `bootstrap` and arms the capture of an
  exception escaping the target. Fork and forkserver children run the after-fork callbacks;
  spawn children do not on 3.10+ (SpawnProcess._after_fork is a no-op), so a spawn child
  (known from its command line) gets a one-shot `_ParentProcess` replacement that restores the
  class, builds the real object and calls `_bootstrapped`; `_ParentProcess.__init__` only
  stores attributes, so no exception can pass through it.
* `_bootstrap` prints an exception escaping the target with `import traceback;
  traceback.print_exc()`. In a child `traceback.print_exc` (looked up at call time) becomes a
  function that, only when its caller is `_bootstrap`, has `_failures` record `exception`, then
  calls the original: the printed bytes are the original's. `traceback` is patched when it is
  imported, so a child that never fails never imports it for us.
"""

import sys
from _weakrefset import WeakSet

import _mpdoctor_probe as probe

_process = None  # the multiprocessing.process module
_popens = {}  # id(process) -> its Popen while in _children (close() drops p._popen first)
_targets = {}  # id(process) -> target name, from Process.__init__ until start()
_bootstrapped_pid = 0  # the pid whose bootstrap was recorded (spawn children on 3.8/3.9 see both)


class ChildSet(set):
    __slots__ = ()

    def add(self, process):
        set.add(self, process)
        if probe.on:
            _started(process, sys._getframe(1))

    def discard(self, process):
        if process in self:
            set.discard(self, process)
            if probe.on:
                _reaped(process)


class DanglingSet(WeakSet):
    def add(self, item):
        WeakSet.add(self, item)
        if probe.on:
            _note_target(item)


def install(process, spawn_child: bool) -> None:
    """Hook multiprocessing.process (just imported)."""
    global _process
    _process = process
    process._children = ChildSet(process._children)
    process._dangling = DanglingSet(process._dangling)
    if spawn_child:
        _hook_parent_process(process)


def _hook_parent_process(process) -> None:
    real = process._ParentProcess

    def _ParentProcess(name, pid, sentinel):
        process._ParentProcess = real
        parent = real(name, pid, sentinel)
        _bootstrapped(None)
        return parent

    process._ParentProcess = _ParentProcess


def watch_bootstrap(util) -> None:
    """Hook multiprocessing.util (just imported): our callback runs in every child's _bootstrap."""
    util.register_after_fork(_TOKEN, _bootstrapped)


class _Token:
    """register_after_fork keeps its objects in a WeakValueDictionary: this one lives forever."""


_TOKEN = _Token()


def _bootstrapped(_token) -> None:
    global _bootstrapped_pid
    if not probe.on or _process is None or _bootstrapped_pid == probe.pid:
        return
    _bootstrapped_pid = probe.pid
    try:
        _process._children = ChildSet()
        _popens.clear()
        _targets.clear()
        me = _process.current_process()
        method = me._start_method
        if method is None:
            context = sys.modules["multiprocessing.context"]._default_context
            method = context.get_start_method(allow_none=True)
        probe.emit(
            "bootstrap",
            {
                "name": me.name,
                "method": method,
                "parent_pid": me._parent_pid,
                "daemon": bool(me.daemon),
            },
        )
        _arm_exception_capture()
    except Exception:
        probe.disable()


_bootstrap_code = None  # BaseProcess._bootstrap's code, once this process is a child


def _arm_exception_capture() -> None:
    global _bootstrap_code
    _bootstrap_code = _process.BaseProcess._bootstrap.__code__
    from . import _imports

    _imports.watch("traceback")  # patch_print_exc, now or when traceback is imported


def patch_print_exc(traceback) -> None:
    """Hook the traceback module (just imported, or already there) in a multiprocessing child."""
    if _bootstrap_code is None or getattr(traceback.print_exc, "_mpdoctor", False):
        return
    original = traceback.print_exc

    def print_exc(limit=None, file=None, chain=True):
        if _bootstrap_code is not None and sys._getframe(1).f_code is _bootstrap_code:
            from . import _failures

            _failures.record_exception(traceback)
        return original(limit=limit, file=file, chain=chain)

    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(print_exc, attr, getattr(original, attr, None))
    print_exc._mpdoctor = True
    traceback.print_exc = print_exc


def _note_target(process) -> None:
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
        if run is _process.BaseProcess.run:
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


def _started(process, start_frame) -> None:
    try:
        popen = process._popen
        _popens[id(process)] = popen
        kind, pool, site = _start_context(process, start_frame.f_back)
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


def _reaped(process) -> None:
    try:
        popen = _popens.pop(id(process), None) or process._popen
        code = getattr(popen, "returncode", None)
        if code is None:
            return
        probe.emit("child-exit", {"child": popen.pid, "exitcode": code, "name": process.name})
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
