"""Pools and process-pool executors: `pool` when the first worker starts, `pool-end` when done.

Creation is recorded at the first worker start (for a Pool that is inside `Pool()`, so the site
is the user's `Pool(...)` line; a ProcessPoolExecutor starts workers on its first submit/map,
whose line is the site). Nothing wraps a method, so no program exception ever passes through
the probe:

* `Pool._state` and `ProcessPoolExecutor._shutdown_thread` become class-level data descriptors
  with `__set__` only: reads still come straight from the instance dict (no cost, no frame),
  writes are seen. Pool.close() writes CLOSE, Pool.terminate() (and `with` exit) TERMINATE;
  the executor's flag is set by shutdown(), by its manager thread when the pool breaks, and
  at interpreter exit. The same statements exist in 3.8 through 3.13.
* A Pool that is garbage-collected or still open at exit is ended by its `util.Finalize`
  running `_terminate_pool`: the kill audit sees its first SIGTERM (`terminated_by_list`), and
  `Finalize._callback` (same descriptor) is cleared right after the callback ran, when workers
  that exited on their own needed no signal. How: exit (multiprocessing's exit handler) or gc.
"""

import itertools
import sys
import weakref

import _mpdoctor_probe as probe

_ids = itertools.count(1)
_by_owner = {}  # id(pool or executor) -> _Entry
_by_workers = {}  # id(Pool._pool list) -> _Entry (the worker-handler thread only has the list)


class _Entry:
    __slots__ = ("ended", "pool", "ref")

    def __init__(self, owner, pool):
        self.ref = weakref.ref(owner)
        self.pool = pool
        self.ended = set()


def pool_id(kind, owner, workers, child, site) -> "str | None":
    """The id of the pool a worker child belongs to, registering the pool (`pool`) if new."""
    if owner is not None:
        entry = _by_owner.get(id(owner))
        if entry is None or entry.ref() is not owner:
            entry = _register(kind, owner, child, site)
        return entry.pool
    entry = _by_workers.get(id(workers)) if workers is not None else None
    return entry.pool if entry is not None else None


def _register(kind, owner, child, site) -> _Entry:
    if len(_by_owner) > 1000:
        _forget_dead()
    entry = _Entry(owner, "%d:%d" % (probe.pid, next(_ids)))
    _by_owner[id(owner)] = entry
    if kind == "pool-worker":
        _by_workers[id(owner._pool)] = entry
        size = owner._processes
        pool_kind = "Pool"
    else:
        size = owner._max_workers
        pool_kind = "ProcessPoolExecutor"
    probe.emit(
        "pool",
        {
            "pool": entry.pool,
            "kind": pool_kind,
            "size": size if type(size) is int else None,
            "method": getattr(child._popen, "method", None),
            "site": site,
        },
    )
    return entry


def _forget_dead() -> None:
    for key, entry in list(_by_owner.items()):
        if entry.ref() is None:
            del _by_owner[key]
    live = set(map(id, _by_owner.values()))
    for key, entry in list(_by_workers.items()):
        if id(entry) not in live:
            del _by_workers[key]


def _ended(entry, how) -> None:
    if how not in entry.ended:
        entry.ended.add(how)
        probe.emit("pool-end", {"pool": entry.pool, "how": how})


def _entry_of(owner) -> "_Entry | None":
    entry = _by_owner.get(id(owner))
    return entry if entry is not None and entry.ref() is owner else None


def _on_pool_state(pool, value, old) -> None:
    if value == "CLOSE" or value == "TERMINATE":
        entry = _entry_of(pool)
        if entry is not None:
            _ended(entry, value.lower())


def _on_executor_flag(executor, value, old) -> None:
    if value is not True:
        return
    entry = _entry_of(executor)
    if entry is None or entry.ended:
        return
    setter = sys._getframe(2)  # 0 this callback, 1 _Watch.__set__, 2 the assigning method
    name = setter.f_code.co_name
    if name == "shutdown":
        how = "shutdown"
    elif "terminate_broken" in name or setter.f_locals.get("is_broken") is True:
        how = "broken"  # a worker died; 3.8 does this inline in _queue_management_worker
    else:
        how = "exit"  # interpreter exit or the executor was garbage-collected
    _ended(entry, how)


_terminate_pool = None  # Pool._terminate_pool's function


def _on_finalizer_callback(finalizer, value, old) -> None:
    """Finalize clears _callback after calling it: a Pool's _terminate_pool has just run."""
    if value is None and getattr(old, "__func__", None) is _terminate_pool:
        args = finalizer.__dict__.get("_args") or ()
        util = sys.modules["multiprocessing.util"]
        if len(args) > 3:
            terminated_by_list(args[3], util._exiting)


def terminated_by_list(workers, exiting) -> None:
    """A Pool's _terminate_pool is ending the pool: the end of a pool never terminate()d."""
    entry = _by_workers.get(id(workers))
    if entry is not None and "terminate" not in entry.ended:
        entry.ended.add("terminate")
        probe.emit("pool-end", {"pool": entry.pool, "how": "exit" if exiting else "gc"})


class _Watch:
    """Class attribute that sees instance writes; reads go to the instance dict (no __get__)."""

    __slots__ = ("callback", "name")

    def __init__(self, name, callback):
        self.name = name
        self.callback = callback

    def __set__(self, obj, value):
        values = obj.__dict__
        old = values.get(self.name)
        values[self.name] = value
        if probe.on:
            try:
                self.callback(obj, value, old)
            except Exception:
                probe.disable()

    def __delete__(self, obj):
        try:
            del obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(self.name) from None


def watch_pool_class(pool_module) -> None:
    """Hook multiprocessing.pool (just imported)."""
    global _terminate_pool
    cls = pool_module.Pool
    if "_state" not in cls.__dict__:
        cls._state = _Watch("_state", _on_pool_state)
    _terminate_pool = cls._terminate_pool.__func__
    finalize = pool_module.util.Finalize
    if "_callback" not in finalize.__dict__:
        finalize._callback = _Watch("_callback", _on_finalizer_callback)


def watch_executor_class(cls) -> None:
    if "_shutdown_thread" not in cls.__dict__:
        cls._shutdown_thread = _Watch("_shutdown_thread", _on_executor_flag)
