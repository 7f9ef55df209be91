"""Pool and executor ends, seen through writes to a few attributes of their classes; a Queue's
feeder thread failing to send what put() accepted.

Installed when multiprocessing.pool, concurrent.futures.process or multiprocessing.queues is
imported (by `_mp`), so a spawned child that uses none of them never loads it.
"""

import sys

import _mpdoctor_probe as probe

# Writes to a few attributes of multiprocessing's classes, seen through a class-level data
# descriptor with `__set__` only: reads still come straight from the instance dict (no cost,
# no frame) and nothing a program does passes through it. The filters are cheap; `_pools` is
# imported by an executor's creation or a pool's first worker start, so a process that creates
# no pool never loads it. A filter answers False (ignore), True (call `_pools` if loaded) or
# "load" (import `_pools` and call it).

_terminate_pool = None  # Pool._terminate_pool's function


def watch_pool(pool_module) -> None:
    """multiprocessing.pool was just imported."""
    global _terminate_pool
    cls = pool_module.Pool
    watch(cls, "_state", _pool_state_filter, "on_pool_state")
    watch(pool_module.util.Finalize, "_callback", _finalizer_filter, "on_finalizer_callback")
    # Built only when a result or an exception goes back to the parent: never per task.
    watch(pool_module.MaybeEncodingError, "exc", _built_here, "on_encoding_error", "_pickling")
    watch(pool_module.ExceptionWithTraceback, "exc", _load, "on_exception", "_pickling")
    _terminate_pool = cls._terminate_pool.__func__


def watch_executor(process_module) -> None:
    """concurrent.futures.process was just imported."""
    cls = process_module.ProcessPoolExecutor
    watch(cls, "_shutdown_thread", _executor_flag_filter, "on_executor_flag")
    wrapper = getattr(process_module, "_ExceptionWithTraceback", None)
    if wrapper is not None:
        watch(wrapper, "exc", _load, "on_exception", "_pickling")
    # A failing initializer is only logged ("Exception in initializer:") before the worker
    # returns; a filter that answers True sees the record and changes nothing.
    logger = sys.modules["logging"].getLogger("concurrent.futures")
    if _initializer_filter not in logger.filters:
        logger.addFilter(_initializer_filter)


def _initializer_filter(record) -> bool:
    try:
        msg = record.msg
        if probe.on and type(msg) is str and msg == "Exception in initializer:":
            exc_info = record.exc_info
            if type(exc_info) is tuple and len(exc_info) == 3:
                from . import _failures

                _failures.record_initializer_exception(exc_info)
    except Exception:
        probe.disable()
    return True


def _load(obj, value, old) -> str:
    return "load"


def _built_here(obj, value, old):
    """Built by Pool's worker(), not rebuilt by unpickling in the parent's result handler
    (which calls __init__ too): frame 0 is this filter, 1 _Watch.__set__, 2 __init__, 3 its
    caller."""
    caller = sys._getframe(3)
    return "load" if caller.f_code.co_name == "worker" else False


def _pool_state_filter(obj, value, old) -> bool:
    return value == "CLOSE" or value == "TERMINATE"


def _finalizer_filter(obj, value, old):
    """Finalize clears _callback after calling it: was it a Pool's _terminate_pool, or a
    manager's _finalize_manager (its shutdown: where proxies stop working)?"""
    if value is not None or old is None:
        return False
    if getattr(old, "__func__", None) is _terminate_pool:
        return True
    managers = sys.modules.get("multiprocessing.managers")
    base = getattr(managers, "BaseManager", None)
    return "load" if old is getattr(base, "_finalize_manager", None) else False


def _executor_flag_filter(obj, value, old):
    if value is False and old is None:
        return "load"  # ProcessPoolExecutor.__init__: note the user's line that created it
    return value is True


class _Watch:
    __slots__ = ("callback", "filter", "module", "name")

    def __init__(self, name, filter, callback, module):
        self.name = name
        self.filter = filter
        self.callback = callback
        self.module = "_mpdoctor_probe." + module

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
                handler = sys.modules.get(self.module)
                if handler is None and wanted == "load":
                    __import__(self.module)
                    handler = sys.modules[self.module]
                if handler is not None:  # `_pools` not loaded: no pool registered here
                    getattr(handler, self.callback)(obj, value, old)
            except Exception:
                probe.disable()

    def __delete__(self, obj):
        try:
            del obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(self.name) from None


def watch(cls, name, filter, callback, module="_pools") -> None:
    if name not in cls.__dict__:
        setattr(cls, name, _Watch(name, filter, callback, module))


def watch_queues(queues) -> None:
    """multiprocessing.queues was just imported: see Queue.put() failures that happen later.

    `Queue.put()` only appends the object to a buffer; its feeder thread pickles it later, and
    when that fails `_feed` catches the error, calls `is_exiting()` (only on that path), then
    `_on_queue_feeder_error`, which prints the traceback: put() returned long ago, and the item
    is dropped. `queues.is_exiting` (a module global `_feed` looks up at call time) becomes a
    function that returns the original's answer after `_pickling.after_feeder_error` has looked
    at the error being handled, when its caller is `_feed`.

    Nothing is added to put() itself: noting each caller's line there cost about 1 us a put
    (the program's hot path, +50 % for a small object), so the finding names what failed and
    why, not the put() line."""
    is_exiting = queues.is_exiting
    if getattr(is_exiting, "_mpdoctor", False):
        return
    feed_code = queues.Queue._feed.__code__
    getframe = sys._getframe
    hooks = sys.modules["_mpdoctor_probe._mp"]  # what loaded this module

    def noted_is_exiting():
        exiting = is_exiting()
        if probe.on:
            try:
                caller = getframe(1)
            except Exception:
                caller = None
            if caller is not None and caller.f_code is feed_code:
                hooks.call_lazily("_pickling", "after_feeder_error", exiting)
        return exiting

    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(noted_is_exiting, attr, getattr(is_exiting, attr, None))
    noted_is_exiting._mpdoctor = True
    queues.is_exiting = noted_is_exiting
