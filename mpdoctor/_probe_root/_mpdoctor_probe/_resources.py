"""Where the program creates the named resources the resource tracker cleans up after a leak.

shared_memory and synchronize look up `resource_tracker.register` / `unregister` on the module
at each call, so module-level replacements see every shared memory block and named semaphore:
each records `resource` (op, name, rtype, the user's line) and then calls the original. The one
frame this adds shows only if the tracker's own pipe fails, which the program cannot cause.
"""

import sys

import _mpdoctor_probe as probe

from . import _stack


def install(tracker) -> None:
    register, unregister = tracker.register, tracker.unregister

    def register_recorded(name, rtype):
        _record("register", name, rtype)
        return register(name, rtype)

    def unregister_recorded(name, rtype):
        _record("unregister", name, rtype)
        return unregister(name, rtype)

    tracker.register, tracker.unregister = register_recorded, unregister_recorded


def _record(op: str, name, rtype) -> None:
    if not probe.on:
        return
    try:
        user = _stack.outside(sys._getframe(2), _stack.files())
        probe.emit(
            "resource",
            {"op": op, "name": str(name), "rtype": str(rtype), "site": _stack.site(user)},
        )
    except Exception:
        pass  # observing must never break the program's register / unregister
