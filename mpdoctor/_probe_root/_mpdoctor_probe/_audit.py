"""Recording the audited operations the probe watches: os.kill / os.killpg (`kill`), os.exec*
(`exec`). The hook itself (one set lookup per audited operation) is in the package __init__.
"""

import os
import sys

import _mpdoctor_probe as probe


def record(event: str, args: tuple) -> None:
    try:
        first, second = args[0], args[1]
        if event != "os.exec":
            first, second = int(first), int(second)
    except (TypeError, ValueError, IndexError):
        return  # not the arguments CPython passes (a program calling sys.audit itself)
    try:
        if event == "os.exec":
            _exec(first, second)
        else:
            _kill(event, first, second)
    except Exception:
        probe.disable()


def _exec(path, argv) -> None:
    probe.emit("exec", {"path": _text(path), "argv": [_text(a) for a in argv]})


def _kill(event: str, target: int, sig: int) -> None:
    if not sig:
        return  # signal 0 only probes whether a process exists
    from . import _stack

    # frame 0 is _kill, 1 record, 2 the audit hook, 3 the caller of os.kill
    via, site, pool_list, exiting = _stack.kill_context(sys._getframe(3))
    fields = {"target": target, "sig": sig, "via": via, "site": site}
    if event == "os.killpg":
        fields["group"] = True
    probe.emit("kill", fields)
    if pool_list is not None:
        from . import _pools

        _pools.terminated_by_list(pool_list, exiting)


def _text(value) -> str:
    if not isinstance(value, (str, bytes)):
        value = os.fspath(value)  # a path-like program argument
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value
