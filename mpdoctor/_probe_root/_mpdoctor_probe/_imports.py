"""Post-import hooks for the few standard-library modules the probe watches.

The finder at the front of sys.meta_path (package __init__) returns None for every other name
after one set lookup. For a watched name it asks the remaining finders for the real spec and, if
the module comes from the standard library (a user's own `multiprocessing.py` is left alone),
puts a wrapper in the loader instance's `exec_module` that runs the module, removes itself, then
calls `_mp.on_import`.

The wrapper's code claims importlib's file name, so CPython's traceback cleanup for imports
(`remove_importlib_frames`) trims it together with importlib's own frames: an exception raised
while such a module executes shows exactly the traceback it shows without the probe.
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
        from . import _mp

        _mp.on_import(name, module)
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
