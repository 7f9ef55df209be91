"""What every multiprocessing process of the tree runs: the import hooks and the children set.

Every spawned child loads this module, so it holds only that path (each module a child imports
costs it about 0.5 M instructions; `_parent`, `_watches`, `_pools`, `_resources`, `_stack`,
`_mplog` and `_failures` load only when they have work).

Import hooks. The finder at the front of sys.meta_path (package __init__) returns None for every
other name after one set lookup. For a watched name it asks the remaining finders for the real
spec and, if the module comes from the standard library (a user's own `multiprocessing.py` is
left alone), puts a wrapper in the loader instance's `exec_module` that runs the module, removes
itself, then calls `on_import`. The wrapper's code claims importlib's file name, so CPython's
traceback cleanup for imports (`remove_importlib_frames`) trims it together with importlib's own
frames: an exception raised while such a module executes shows exactly the traceback it shows
without the probe.

Children, observed without adding frames to any traceback:

* `multiprocessing.process._children` becomes a `ChildSet`. `Process.start()` calls
  `_children.add(p)` only after Popen succeeded (-> `child-start`); `join()`, `is_alive()`,
  `close()` and `_cleanup()` call `_children.discard(p)` once the child is reaped
  (-> `child-exit` with `p._popen.returncode`). No program exception passes through either.
* `multiprocessing.process._dangling` (a WeakSet every Process joins in `__init__`) becomes a
  `DanglingSet` that notes the target's name: `start()` deletes `_target` before `add`.
* In a child, `_bootstrap` resets `_children = set()`, sets `_current_process`, builds
  `_ParentProcess(...)`, then runs the after-fork callbacks of `multiprocessing.util`. Ours
  (`_bootstrapped`) re-installs the ChildSet, writes `bootstrap` and arms the capture of an
  exception escaping the target (`_patch_print_exc`). Fork and forkserver children run
  the after-fork callbacks; spawn children do not on 3.10+ (SpawnProcess._after_fork is a
  no-op), so a spawn child (known from its command line) gets a one-shot `_ParentProcess`
  replacement that restores the class, builds the real object and calls `_bootstrapped`;
  `_ParentProcess.__init__` only stores attributes, so no exception can pass through it.
"""

import os
import sys
from _weakrefset import WeakSet

import _mpdoctor_probe as probe
from _mpdoctor_probe import WATCHED

# Order in which already-imported modules are hooked when the probe starts late.
_ORDER = (
    "multiprocessing",
    "multiprocessing.process",
    "multiprocessing.util",
    "multiprocessing.pool",
    "multiprocessing.queues",
    "concurrent.futures.process",
    "multiprocessing.resource_tracker",
    "multiprocessing.synchronize",
    "traceback",
)

_STDLIB = os.path.dirname(os.__file__) + os.sep


def hooked_spec(finder, name, path, target):
    """The spec of watched module `name`, its loader set to run our hook (None: not ours)."""
    try:
        spec = None
        for other in sys.meta_path:
            if other is finder:
                continue
            find = getattr(other, "find_spec", None)
            if find is not None:
                spec = find(name, path, target)
                if spec is not None:
                    break
        if spec is None or not (spec.origin or "").startswith(_STDLIB):
            return None  # importlib asks the other finders itself
        loader = spec.loader
        if loader is None or isinstance(loader, type):
            return None  # a class-level loader (builtin, frozen) is shared: never patch it
        # A bound method adds no frame of its own; it lives on this loader instance only.
        loader.exec_module = _BoundMethod(_exec_then_hook, (name, loader, loader.exec_module))
        return spec
    except Exception:
        return None


def _exec_then_hook(state, module):
    name, loader, exec_module = state
    try:
        del loader.exec_module  # the loader is the module's __loader__: leave it as it was
    except AttributeError:
        pass
    exec_module(module)
    run_hook(name, module)


# Frames of importlib's files are removed from import tracebacks along with importlib's own.
_exec_then_hook.__code__ = _exec_then_hook.__code__.replace(
    co_filename="<frozen importlib._bootstrap_external>"
)


def run_hook(name: str, module) -> None:
    """Run the probe's hook for a freshly imported watched module (never raises)."""
    if not probe.on:
        return
    try:
        on_import(name, module)
    except Exception:
        probe.disable()


_BoundMethod = type(run_hook.__get__(0))  # types.MethodType, without importing types


def watch(name: str) -> None:
    """Also hook `name` (now if it is already imported, else when it is)."""
    WATCHED.add(name)
    module = sys.modules.get(name)
    if module is not None:
        run_hook(name, module)


def hook_imported() -> None:
    """The probe started after some watched modules were imported: hook them now."""
    for name in _ORDER:
        module = sys.modules.get(name)
        if module is not None and name in WATCHED:
            run_hook(name, module)


def on_import(name: str, module) -> None:
    if name == "multiprocessing":
        if os.environ.get("MPDOCTOR_START_METHOD") or os.environ.get("MPDOCTOR_START_METHODS"):
            from . import _methods

            _methods.force_start_method(module)
        _mp_event(module)
        # thread records from here on (multiprocessing imports threading): the monitor dumps
        # only the stacks of threads it knows
        _name_threads(sys.modules["threading"])
        if role() == "forkserver":
            from . import _failures

            _failures.record_excepthook_calls()
    elif name == "multiprocessing.process":
        install(module, role() == "spawn-child")
    elif name == "multiprocessing.util":
        # our callback runs in every fork and forkserver child's _bootstrap; the registry holds
        # its objects weakly: a module's function lives as long as the process
        module.register_after_fork(_bootstrapped, _bootstrapped)
        # util has just imported atexit and registered its exit function: ours runs before it
        sys.modules["atexit"].register(_at_exit)
        if os.environ.get("MPDOCTOR_MP_LOG", "off") != "off" and role() is None:
            from . import _mplog

            _mplog.setup(module)
    elif name == "multiprocessing.pool":
        from . import _watches

        _watches.watch_pool(module)
    elif name == "multiprocessing.queues":
        from . import _watches

        _watches.watch_queues(module)
    elif name == "concurrent.futures.process":
        from . import _watches

        _watches.watch_executor(module)
    elif name == "multiprocessing.resource_tracker":
        if role() == "resource-tracker":
            from . import _failures

            _failures.watch_tracker_warnings()
        else:
            _record_resources(module)
    elif name == "multiprocessing.synchronize":
        _record_semaphore_names(module)
    elif name == "traceback":
        _patch_print_exc(module)


def _name_threads(threading) -> None:
    """`thread` events (ident, native id, name): the monitor signals only the threads it
    knows, each by its native id, and names them. Recorded as each thread starts
    (`_set_native_id` runs in `_bootstrap_inner` before `run()`, so no frame of ours is ever in
    a traceback) and once for those already running, but for the main thread when it wrote
    `start` (the monitor names it from there). A forked child's own thread is in its `start`
    event: nothing is written at fork time."""
    thread_class = threading.Thread
    set_native_id = getattr(thread_class, "_set_native_id", None)
    if set_native_id is None or getattr(set_native_id, "_mpdoctor", False):
        return

    def _set_native_id(self):
        set_native_id(self)
        # not in a forked child's after-fork hooks: it writes nothing before it registers;
        # not for the main thread that wrote `start` (a spawn child's _bootstrap sets its id)
        if (
            probe.on
            and probe._fork_parent is None
            and os.getpid() == probe.pid
            and not _is_start_thread(self)
        ):
            _thread_event(self)

    _set_native_id._mpdoctor = True
    thread_class._set_native_id = _set_native_id
    for thread in list(threading._active.values()):
        if not _is_start_thread(thread):
            _thread_event(thread)


def _is_start_thread(thread) -> bool:
    """The main thread, still so named, that wrote `start`: its ident and native id are there."""
    return thread._ident == probe.start_ident and thread._name == "MainThread"


_MAX_THREAD_EVENTS = 1000  # a server starting a thread per request must not fill the session
_thread_events = 0


def _thread_event(thread) -> None:
    global _thread_events
    if _thread_events >= _MAX_THREAD_EVENTS:
        return
    _thread_events += 1
    try:
        ident, tid = thread._ident, getattr(thread, "_native_id", None)
        if ident is not None and tid is not None:
            probe.emit("thread", {"ident": ident, "tid": tid, "name": thread._name})
    except Exception:
        probe.disable()


def _at_exit() -> None:
    """An exception Python printed as uncaught in this process (it sets sys.last_value before
    exit handlers run): the program's main, a spawn child failing before its target ran."""
    if not probe.on:
        return
    try:
        exc = getattr(sys, "last_exc", None)
        if exc is None:
            exc = getattr(sys, "last_value", None)
        if isinstance(exc, BaseException):
            call_lazily("_failures", "record_uncaught", exc)
    except Exception:
        probe.disable()


_announced = None  # the semaphore name `create` wrote last: its `register` adds nothing


def _record_resources(tracker) -> None:
    """Wrap resource_tracker.register / unregister (shared_memory and synchronize look them up
    on the module at each call, so these see every block and named semaphore). Every spawn child
    imports resource_tracker; `_resources` (and `_stack`) load only at the first call. The one
    frame this adds shows only if the tracker's own pipe fails, which the program cannot cause."""
    register, unregister = tracker.register, tracker.unregister

    def register_recorded(name, rtype):
        if probe.on and name != _announced:
            call_lazily("_resources", "record", "register", name, rtype, sys._getframe(1))
        return register(name, rtype)

    def unregister_recorded(name, rtype):
        if probe.on:
            call_lazily("_resources", "record", "unregister", name, rtype, sys._getframe(1))
        return unregister(name, rtype)

    tracker.register, tracker.unregister = register_recorded, unregister_recorded


def _record_semaphore_names(synchronize) -> None:
    """`resource` op `create` (name, the user's line) for each named semaphore about to be
    created, but in the fork context, which unlinks it at once. Written before sem_open, so a
    process killed between creating it and registering it with the resource tracker (which then
    never unlinks it) still leaves its name for the monitor, which unlinks what outlives the
    tree; it stands for the `register` that follows, which writes nothing more.
    `_make_name` only formats a prefix and a random sequence: no exception passes here."""
    semlock = synchronize.SemLock
    make_name = semlock._make_name  # a staticmethod, read as the plain function

    def _make_name():
        global _announced
        name = make_name()
        if probe.on:
            try:  # SemLock.__init__ (3.8+) holds `unlink_now`: True in the fork context
                caller = sys._getframe(1)
                named = not caller.f_locals.get("unlink_now", True)
            except Exception:
                probe.disable()
                return name
            if named:
                _announced = name
                call_lazily("_resources", "record", "create", name, "semaphore", caller)
        return name

    semlock._make_name = staticmethod(_make_name)


def _mp_event(mp) -> None:
    context = mp.context._default_context  # DefaultContext; never fix the method from here
    probe.emit(
        "mp",
        {
            "method": context.get_start_method(allow_none=True),
            "default_method": context._default_context.get_start_method(),
            "role": role(),
        },
    )


# Which multiprocessing helper this process is, from its command line. multiprocessing starts
# its helpers as `python -c CODE`: a spawn child runs spawn_main with `--multiprocessing-fork`,
# the fork server `forkserver import main`, the resource tracker `resource_tracker import main`.
# sys.argv holds only `-c` and the arguments, so the code comes from sys.orig_argv (3.10+) or
# /proc/self/cmdline. It describes the process image: a fork child shares its parent's.

_role = False  # not computed yet (None is a valid answer)


def role() -> "str | None":
    """spawn-child | forkserver | resource-tracker, or None for any other process."""
    global _role
    if _role is False:
        argv = getattr(sys, "argv", None) or [""]
        if argv[0] != "-c":
            _role = None
        elif argv[1:2] == ["--multiprocessing-fork"]:
            _role = "spawn-child"
        else:
            code = _command_code()
            if "multiprocessing.forkserver import main" in code:
                _role = "forkserver"
            elif "multiprocessing.resource_tracker import main" in code:
                _role = "resource-tracker"
            else:
                _role = None
    return _role


def _command_code() -> str:
    argv = getattr(sys, "orig_argv", None)
    if argv is None:
        try:
            fd = os.open("/proc/self/cmdline", os.O_RDONLY)
        except OSError:
            return ""
        try:
            chunks = []
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(fd)
        argv = b"".join(chunks).decode("utf-8", "surrogateescape").split("\0")
    try:
        return argv[argv.index("-c") + 1]
    except (ValueError, IndexError):
        return ""


# Children

# Whether multiprocessing.process was hooked in this process (or in the parent it forked from).
# The module itself is looked up when needed, never kept: a module global of ours holding it
# would keep it alive through interpreter shutdown (the at-fork hooks hold our globals until the
# very end), and clearing it and the modules it reaches there costs a spawn child about 1.2 M
# instructions, a fifth of what the probe costs it.
_installed = False
_bootstrapped_pid = 0  # the pid whose bootstrap was recorded (spawn children on 3.8/3.9 see both)


class ChildSet(set):
    __slots__ = ()

    def add(self, process):
        set.add(self, process)
        if probe.on:
            call_lazily("_parent", "started", process, sys._getframe(1))

    def discard(self, process):
        if process in self:
            set.discard(self, process)
            if probe.on:
                call_lazily("_parent", "reaped", process)


class DanglingSet(WeakSet):
    def add(self, item):
        WeakSet.add(self, item)
        if probe.on:
            call_lazily("_parent", "note_target", item)


def call_lazily(module: str, function: str, *args) -> None:
    """Call `_mpdoctor_probe.<module>.<function>(*args)`, loading the module at its first use.
    Any error of the probe's own (even a module re-entered while it loads) disables the probe
    in this process and never reaches the program's Process(), start(), join() or register()."""
    try:
        name = "_mpdoctor_probe." + module
        loaded = sys.modules.get(name)
        if loaded is None:
            __import__(name)
            loaded = sys.modules[name]
        getattr(loaded, function)(*args)
    except Exception:
        probe.disable()


def install(process, spawn_child: bool) -> None:
    """Hook multiprocessing.process (just imported)."""
    global _installed
    _installed = True
    process._children = ChildSet(process._children)
    process._dangling = DanglingSet(process._dangling)
    if spawn_child:
        _hook_parent_process(process)
    else:
        # Load `_parent` now in the processes that start most children (the program's root, the
        # fork server): a fork while another thread is importing it would leave the child a
        # held import lock.
        from . import _parent  # noqa: F401


def _hook_parent_process(process) -> None:
    real = process._ParentProcess

    def _ParentProcess(name, pid, sentinel):
        process._ParentProcess = real
        parent = real(name, pid, sentinel)
        _bootstrapped(None)
        return parent

    process._ParentProcess = _ParentProcess


def _bootstrapped(_registered) -> None:
    global _bootstrapped_pid
    # os.getpid(): a fork child's probe.pid is its parent's until its first event.
    if not probe.on or not _installed or _bootstrapped_pid == os.getpid():
        return
    _bootstrapped_pid = os.getpid()
    try:
        probe.watch_audits()
        process = sys.modules["multiprocessing.process"]
        process._children = ChildSet()
        parent = sys.modules.get("_mpdoctor_probe._parent")
        if parent is not None:
            parent.forget()
        me = process.current_process()
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
        _arm_exception_capture(process)
    except Exception:
        probe.disable()
    _keep_allocator_pools_in_use()


_ballast = None


def _keep_allocator_pools_in_use() -> None:
    """End a child's bootstrap with a few small objects that stay alive.

    The bootstrap allocates and frees temporaries just before the target runs. Without this,
    pymalloc's current pool for the smallest size classes can be left holding nothing but the
    target's own temporaries, and an arithmetic loop then empties and refills a pool on every
    iteration. Measured with callgrind on a Pool(1) worker (300,000 iterations): without the
    ballast +1.7 M instructions in _PyObject_Free and +0.55 M in _PyObject_Malloc; with it
    both are back at the plain run's figures (see docs/benchmarks.md).
    """
    global _ballast
    try:
        _ballast = tuple((i * 1000003, -i * 1000003) for i in range(300, 308))
    except Exception:
        pass


_bootstrap_code = None  # BaseProcess._bootstrap's code, once this process is a child


def _arm_exception_capture(process) -> None:
    global _bootstrap_code
    _bootstrap_code = process.BaseProcess._bootstrap.__code__
    watch("traceback")  # _patch_print_exc, now or when traceback is imported


def _patch_print_exc(traceback) -> None:
    """Hook the traceback module (just imported, or already there) in a multiprocessing child:
    `_bootstrap` prints an exception escaping the target with `traceback.print_exc()` (looked up
    at call time). Ours, only when its caller is `_bootstrap`, has `_failures` record it, then
    calls the original: the printed bytes are the original's. Pool and Queue users import
    traceback anyway; `_failures` loads only when a target fails."""
    if _bootstrap_code is None or getattr(traceback.print_exc, "_mpdoctor", False):
        return
    original = traceback.print_exc
    bootstrap_code = _bootstrap_code

    def print_exc(limit=None, file=None, chain=True):
        caller = sys._getframe().f_back  # None when print_exc starts a thread
        if caller is not None and caller.f_code is bootstrap_code and probe.on:
            call_lazily("_failures", "record_exception", traceback)
        return original(limit=limit, file=file, chain=chain)

    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(print_exc, attr, getattr(original, attr, None))
    print_exc._mpdoctor = True
    traceback.print_exc = print_exc
