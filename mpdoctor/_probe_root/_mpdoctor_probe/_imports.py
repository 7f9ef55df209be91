"""Post-import hooks: what the probe does when a watched standard-library module is imported.

The finder at the front of sys.meta_path (package __init__) returns None for every other name
after one set lookup. For a watched name it asks the remaining finders for the real spec and, if
the module comes from the standard library (a user's own `multiprocessing.py` is left alone),
puts a wrapper in the loader instance's `exec_module` that runs the module, removes itself, then
calls `on_import`.

The wrapper's code claims importlib's file name, so CPython's traceback cleanup for imports
(`remove_importlib_frames`) trims it together with importlib's own frames: an exception raised
while such a module executes shows exactly the traceback it shows without the probe.

Every spawned child imports multiprocessing, so this path is kept to this module and
`_children`; `_pools`, `_stack`, `_mplog` and `_failures` load only when they have work.
"""

import os
import sys

import _mpdoctor_probe as probe
from _mpdoctor_probe import WATCHED

# Order in which already-imported modules are hooked when the probe starts late.
_ORDER = (
    "multiprocessing",
    "multiprocessing.process",
    "multiprocessing.util",
    "multiprocessing.pool",
    "concurrent.futures.process",
    "multiprocessing.resource_tracker",
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


class _Any:
    def method(self):
        pass


_BoundMethod = type(_Any().method)
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
    global _terminate_pool
    if name == "multiprocessing":
        _mp_event(module)
    elif name == "multiprocessing.process":
        from . import _children

        _children.install(module, role() == "spawn-child")
    elif name == "multiprocessing.util":
        from . import _children

        _children.watch_bootstrap(module)
        if os.environ.get("MPDOCTOR_MP_LOG", "off") != "off" and role() is None:
            from . import _mplog

            _mplog.setup(module)
    elif name == "multiprocessing.pool":
        cls = module.Pool
        _watch(cls, "_state", _pool_state_filter, "on_pool_state")
        _watch(module.util.Finalize, "_callback", _finalizer_filter, "on_finalizer_callback")
        _terminate_pool = cls._terminate_pool.__func__
    elif name == "concurrent.futures.process":
        cls = module.ProcessPoolExecutor
        _watch(cls, "_shutdown_thread", _executor_flag_filter, "on_executor_flag")
    elif name == "multiprocessing.resource_tracker":
        if role() == "resource-tracker":
            from . import _failures

            _failures.watch_tracker_warnings()
        else:
            from . import _resources

            _resources.install(module)
    elif name == "traceback":
        from . import _children

        _children.patch_print_exc(module)


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


# Writes to a few attributes of multiprocessing's classes, seen through a class-level data
# descriptor with `__set__` only: reads still come straight from the instance dict (no cost,
# no frame) and nothing a program does passes through it. The filters are cheap; `_pools` is
# imported by an executor's creation or a pool's first worker start, so a process that creates
# no pool never loads it. A filter answers False (ignore), True (call `_pools` if loaded) or
# "load" (import `_pools` and call it).

_terminate_pool = None  # Pool._terminate_pool's function


def _pool_state_filter(obj, value, old) -> bool:
    return value == "CLOSE" or value == "TERMINATE"


def _finalizer_filter(obj, value, old) -> bool:
    """Finalize clears _callback after calling it: was it a Pool's _terminate_pool?"""
    return value is None and getattr(old, "__func__", None) is _terminate_pool


def _executor_flag_filter(obj, value, old):
    if value is False and old is None:
        return "load"  # ProcessPoolExecutor.__init__: note the user's line that created it
    return value is True


class _Watch:
    __slots__ = ("callback", "filter", "name")

    def __init__(self, name, filter, callback):
        self.name = name
        self.filter = filter
        self.callback = callback

    def __set__(self, obj, value):
        values = obj.__dict__
        old = values.get(self.name)
        values[self.name] = value
        if not probe.on:
            return
        try:  # the filter may touch the program's objects (a Finalize callback of its own)
            wanted = self.filter(obj, value, old)
        except Exception:
            return
        if wanted:
            try:
                pools = sys.modules.get("_mpdoctor_probe._pools")
                if pools is None and wanted == "load":
                    from . import _pools as pools
                if pools is not None:  # not loaded: no pool registered in this process
                    getattr(pools, self.callback)(obj, value, old)
            except Exception:
                probe.disable()

    def __delete__(self, obj):
        try:
            del obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(self.name) from None


def _watch(cls, name, filter, callback) -> None:
    if name not in cls.__dict__:
        setattr(cls, name, _Watch(name, filter, callback))
