"""manager-gone: a Manager proxy was used after the manager's server process had ended.

The proxy talks to the manager's server over a socket: once the server is gone, a call raises
BrokenPipeError, ConnectionResetError or EOFError on an open connection, and FileNotFoundError
or ConnectionRefusedError on a new one, from multiprocessing/managers.py. The usual causes: the
proxy outlived its `with Manager()` block, or multiprocessing's exit handler shut the manager
down (exit priority 0) before joining the children still using it.
"""

from __future__ import annotations

from mpdoctor.diagnose.causes import exceptions_matching
from mpdoctor.diagnose.evidence import Evidence, ExceptionInfo
from mpdoctor.diagnose.family import short_label
from mpdoctor.diagnose.tracebacks import exception_text, user_frame
from mpdoctor.diagnose.wording import location, where
from mpdoctor.model import Finding, Hint

RULE_ID = "manager-gone"

HINT = Hint(
    fix=(
        "Use the proxies only inside the `with Manager()` block, and join the processes that "
        "use them before the block ends (or before the program's end)."
    ),
    why=(
        "A proxy is a connection to the manager's server process; once the manager is shut "
        "down, every call on it fails."
    ),
    docs="https://docs.python.org/3/library/multiprocessing.html#managers",
)

_GONE = (
    "BrokenPipeError",
    "ConnectionResetError",
    "ConnectionRefusedError",
    "FileNotFoundError",
    "EOFError",
)


def check(evidence: Evidence) -> list[Finding]:
    hits = exceptions_matching(evidence, used_dead_proxy, children_only=False)
    if not hits or _server_died_starting(evidence):
        return []
    proc, exc = hits[0]
    end = evidence.manager_ends[0] if evidence.manager_ends else None
    # a proxy's methods are generated code ("<string>"): the program's own line is the caller
    frame = user_frame([f for f in exc.frames if not f.file.startswith("<")])
    at = f" at {where(frame)}" if frame else ""
    who = "The main process" if proc.key == evidence.main else short_label(proc)
    message = f"{who} used a Manager proxy{at} after the manager had ended: "
    message += f"{exception_text(exc)}."
    locations = [location("used", frame, proc.key.pid)] if frame else []
    if end is not None and end.site is not None:
        message += f" The manager was shut down at {where(end.site)} (the end of its block)."
        locations.append(location("shut down", end.site, end.owner_pid))
    elif end is not None and end.exiting:
        message += (
            " multiprocessing's exit handler shut it down as the program ended, before "
            "joining the children still using it."
        )
    return [
        Finding(
            id=RULE_ID,
            severity="error",
            certainty="proven" if end is not None else "suspected",
            title="a Manager proxy used after its manager ended",
            message=message,
            pids=sorted(p.key.pid for p, _ in hits),
            locations=locations,
            evidence=[f"{short_label(p)}: {exception_text(e)}" for p, e in hits[:5]],
            hint=HINT,
        )
    ]


def used_dead_proxy(exc: ExceptionInfo) -> bool:
    if exc.type.rsplit(".", 1)[-1] not in _GONE:
        return False
    return any(f.file.endswith("managers.py") for f in exc.frames)


def _server_died_starting(evidence: Evidence) -> bool:
    """The manager's server died of a cause a rule names (a spawn server re-importing a main
    module without its guard): that finding explains the broken proxies."""
    from mpdoctor.diagnose.causes import died_importing_main

    return any(
        p.started_as == "manager" and died_importing_main(p) for p in evidence.processes.values()
    )
