"""Pools and process-pool executors: `pool` when the first worker starts, `pool-end` when done.

Creation is recorded at the first worker start, which for a Pool is inside `Pool()`: the site is
the user's `Pool(...)` line. A ProcessPoolExecutor starts workers on its first submit/map; its
site is the line that created it, noted when its __init__ sets `_shutdown_thread = False`.
Nothing wraps a method, so no program exception ever passes through the probe. Creations and
ends are seen through writes to attributes (`_watches`); this module is loaded by the
first executor or pool worker of this process:

* `Pool._state`: Pool.close() writes CLOSE, Pool.terminate() (and `with` exit) TERMINATE.
* `ProcessPoolExecutor._shutdown_thread` becomes True in shutdown(), in its manager thread
  when the pool breaks, and at interpreter exit. The same statements exist in 3.8 to 3.13.
* A Pool that is garbage-collected or still open at exit is ended by its `util.Finalize`
  running `_terminate_pool`: the kill audit sees its first SIGTERM (`terminated_by_list`), and
  `Finalize._callback` (also watched) is cleared right after the callback ran, when workers
  that exited on their own needed no signal. How: exit (multiprocessing's exit handler) or gc.
"""

import itertools
import sys
import weakref

import _mpdoctor_probe as probe
from _mpdoctor_probe import _stack

_ids = itertools.count(1)
_by_owner = {}  # id(pool or executor) -> _Entry
_by_workers = {}  # id(Pool._pool list) -> _Entry (the worker-handler thread only has the list)
_created = {}  # id(executor) -> (weakref, site of the user's line that created it)


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
        ref, created_at = _created.pop(id(owner), (None, None))
        if ref is not None and ref() is owner:
            site = created_at
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


def on_pool_state(pool, value, old) -> None:
    """Pool.close() wrote CLOSE, Pool.terminate() TERMINATE."""
    entry = _entry_of(pool)
    if entry is not None:
        _ended(entry, value.lower())


def on_executor_flag(executor, value, old) -> None:
    """ProcessPoolExecutor._shutdown_thread set False by __init__, or True: ended."""
    if value is False:
        _note_creation(executor)
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


def _note_creation(executor) -> None:
    from . import _stack

    if len(_created) > 1000:
        _created.clear()  # executors created and never used
    # 0 here, 1 on_executor_flag, 2 _Watch.__set__, 3 ProcessPoolExecutor.__init__
    user = _stack.outside(sys._getframe(3), _stack.files())
    _created[id(executor)] = (weakref.ref(executor), _stack.site(user))


def on_finalizer_callback(finalizer, value, old) -> None:
    """A Pool's finalizer has just run its _terminate_pool, or a manager's its
    _finalize_manager (see _watches._finalizer_filter)."""
    args = finalizer.__dict__.get("_args") or ()
    if getattr(old, "__name__", "") == "_finalize_manager":
        process = args[0] if args else None
        fs = _stack.files()
        user = _stack.outside(sys._getframe(1), fs)
        exiting = bool(sys.modules["multiprocessing.util"]._exiting)
        probe.emit(
            "manager-end",
            {
                "manager": getattr(process, "pid", None),
                "site": None if exiting else _stack.site(user),
                "exiting": exiting,
            },
        )
        return
    if len(args) > 3:
        terminated_by_list(args[3], sys.modules["multiprocessing.util"]._exiting)


def terminated_by_list(workers, exiting) -> None:
    """A Pool's _terminate_pool is ending the pool: the end of a pool never closed/terminated."""
    entry = _by_workers.get(id(workers))
    if entry is not None and not entry.ended:  # closed or terminated before: already ended
        entry.ended.add("terminate")
        probe.emit("pool-end", {"pool": entry.pool, "how": "exit" if exiting else "gc"})
