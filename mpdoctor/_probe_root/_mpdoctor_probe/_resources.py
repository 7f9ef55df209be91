"""Where the program creates the named resources the resource tracker cleans up after a leak.

`_mp` wraps resource_tracker.register / unregister and calls `record` with the frame that
called them: each call writes `resource` (op, name, rtype, the user's line).
"""

import _mpdoctor_probe as probe

from . import _stack


def record(op: str, name, rtype, caller) -> None:
    user = _stack.outside(caller, _stack.files())
    probe.emit(
        "resource", {"op": op, "name": str(name), "rtype": str(rtype), "site": _stack.site(user)}
    )
