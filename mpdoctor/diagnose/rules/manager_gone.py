"""manager-gone: a Manager proxy was used after the manager's server process had ended.

The proxy talks to the manager's server over a socket: once the server is gone, a call raises
BrokenPipeError, ConnectionResetError or EOFError on an open connection, and FileNotFoundError
or ConnectionRefusedError on a new one, from multiprocessing/managers.py. The causes, as the
evidence tells them apart: the server died while the program still used it (killed by a signal,
the OOM killer, a crash: its exit status, and the kill's sender and line when the probe saw
it); the proxy outlived its `with Manager()` block (a `manager-end` event with the block's
line); or multiprocessing's exit handler shut the manager down (exit priority 0) before joining
the children still using it (a `manager-end` event marked `exiting`, the server alive until
then).

One producer per finding: a server death this rule explains is not also `process-crashed`
(`explained_server_deaths`).
"""

from __future__ import annotations

from dataclasses import replace

from mpdoctor.diagnose.causes import exceptions_matching
from mpdoctor.diagnose.evidence import (
    Evidence,
    ExceptionInfo,
    ManagerEndEvidence,
    ProcessEvidence,
    ProcessKey,
)
from mpdoctor.diagnose.exits import (
    Death,
    death_of,
    describe,
    died_at,
    is_deliberate,
    killer_of,
    start_and_kill_locations,
)
from mpdoctor.diagnose.family import label, short_label
from mpdoctor.diagnose.roles import classify_all
from mpdoctor.diagnose.signals import FAULT_SIGNALS, SIGKILL
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

_SERVER_WHY = (
    "A proxy is a connection to the manager's server process, which holds every shared "
    "object; once that process dies, every call on every proxy fails, and the objects are lost."
)
# The server died while proxies were still in use: the fix depends on how.
KILLED_HINT = replace(
    HINT,
    fix=(
        "Keep the manager's server alive for as long as proxies are used: do not signal it "
        "(the line that killed it is cited); end it with `manager.shutdown()` or its `with` "
        "block once no process uses its proxies."
    ),
    why=_SERVER_WHY,
)
OOM_HINT = replace(
    HINT,
    fix=(
        "Find what killed the manager's server: a SIGKILL that no process of the program sent "
        "is most often the OOM killer (the server holds every shared object: keep less data in "
        "it, or share big data otherwise), else another program or a person. Keep the server "
        "alive for as long as proxies are used."
    ),
    why=_SERVER_WHY,
)
KILLED_OUTSIDE_HINT = replace(
    HINT,
    fix=(
        "Find who killed the manager's server: no process of the program sent the signal "
        "(another program, a person, a supervisor's time limit). Keep the server alive for as "
        "long as proxies are used."
    ),
    why=_SERVER_WHY,
)
CRASHED_HINT = replace(
    HINT,
    fix=(
        "Find why the manager's server died (its exit status and any traceback are in the "
        "evidence; for a fault signal, run with PYTHONFAULTHANDLER=1), and keep it alive for "
        "as long as proxies are used."
    ),
    why=_SERVER_WHY,
)

# Deliberate kills (exits.DELIBERATE_VIA) that still kill a manager behind its proxies' back.
_PROGRAM_KILLS = frozenset({"process-terminate", "user"})

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
    # a proxy's methods are generated code ("<string>"): the program's own line is the caller
    frame = user_frame([f for f in exc.frames if not f.file.startswith("<")])
    at = f" at {where(frame)}" if frame else ""
    who = "The main process" if proc.key == evidence.main else short_label(proc)
    dead = _dead_servers(evidence)
    end = _live_end(evidence, dead)
    gone = "the manager's server had died" if dead else "the manager had ended"
    message = f"{who} used a Manager proxy{at} after {gone}: {exception_text(exc)}."
    locations = [location("used", frame, proc.key.pid)] if frame else []
    lines = [f"{short_label(p)}: {exception_text(e)}" for p, e in hits[:5]]
    title = "a Manager proxy used after its manager ended"
    hint = HINT
    if dead:
        server, death = dead[0]
        how, status = describe(server, death, evidence)
        message += f" The server, {label(server)}, {how}"
        if server.exception is not None:
            message += f", after raising {exception_text(server.exception)}"
        message += "."
        title = "a Manager proxy used after its server " + (
            "was killed" if death.signal is not None else "died"
        )
        locations += start_and_kill_locations(server, death, evidence)
        lines += [f"server {short_label(server)}: {line}" for line in status]
        hint = _server_hint(server, death, evidence)
    elif end is not None and end.site is not None:
        message += f" The manager was shut down at {where(end.site)} (the end of its block)."
        locations.append(location("shut down", end.site, end.owner_pid))
    elif end is not None and end.exiting:
        message += " multiprocessing's exit handler shut it down as the program ended"
        if any(p.key != evidence.main for p, _ in hits):
            message += ", before joining the children still using it."
        else:
            message += "."
    return [
        Finding(
            id=RULE_ID,
            severity="error",
            certainty="proven" if dead or end is not None else "suspected",
            title=title,
            message=message,
            pids=sorted({p.key.pid for p, _ in hits} | {s.key.pid for s, _ in dead[:1]}),
            locations=locations,
            evidence=lines,
            hint=hint,
        )
    ]


def used_dead_proxy(exc: ExceptionInfo) -> bool:
    if exc.type.rsplit(".", 1)[-1] not in _GONE:
        return False
    return any(f.file.endswith("managers.py") for f in exc.frames)


def explained_server_deaths(evidence: Evidence) -> set[ProcessKey]:
    """The manager servers whose death this rule reports (so process-crashed leaves them)."""
    if not exceptions_matching(evidence, used_dead_proxy, children_only=False):
        return set()
    if _server_died_starting(evidence):
        return set()
    dead = _dead_servers(evidence)
    return {dead[0][0].key} if dead else set()


def _dead_servers(evidence: Evidence) -> list[tuple[ProcessEvidence, Death]]:
    """Manager servers that died abnormally while the manager was meant to run, earliest death
    first: killed (by the program too: its own `terminate()` of the server is what broke the
    proxies), crashed, or exited with an error; not a manager's shutdown (which `manager_ends`
    tell), mpdoctor's tear-down or Ctrl-C."""
    roles = classify_all(evidence)
    dead = []
    for proc in evidence.processes.values():
        if roles[proc.key] != "manager":
            continue
        death = death_of(proc)
        if death is None or _shut_down(proc, death):
            continue
        dead.append((proc, death))

    def when(item: tuple[ProcessEvidence, Death]) -> float:
        t = died_at(*item)
        return t if t is not None else float("inf")

    return sorted(dead, key=when)


def _shut_down(proc: ProcessEvidence, death: Death) -> bool:
    """The server's end was a shutdown, not a death: the manager's own (or multiprocessing's
    exit handler's), mpdoctor's tear-down, Ctrl-C."""
    if not is_deliberate(proc, death):
        return False
    kill = killer_of(proc, death)
    return kill is None or kill.via not in _PROGRAM_KILLS


def _live_end(
    evidence: Evidence, dead: list[tuple[ProcessEvidence, Death]]
) -> ManagerEndEvidence | None:
    """The first shutdown of a manager whose server was still alive then: the finalizer of a
    server that had already died (multiprocessing's exit handler runs it at the program's end
    anyway) ended nothing."""
    for end in evidence.manager_ends:
        if not any(_died_before(server, death, end) for server, death in dead):
            return end
    return None


def _died_before(server: ProcessEvidence, death: Death, end: ManagerEndEvidence) -> bool:
    if end.manager_pid != server.key.pid:
        return False
    t = died_at(server, death)
    return t is None or t <= end.t_s


def _server_hint(server: ProcessEvidence, death: Death, evidence: Evidence) -> Hint:
    if killer_of(server, death) is not None:
        return KILLED_HINT
    if death.signal == SIGKILL and evidence.cgroup_oom_kills != 0:
        return OOM_HINT  # the OOM killer is possible (uncounted) or proven
    if death.signal is not None and death.signal not in FAULT_SIGNALS:
        return KILLED_OUTSIDE_HINT
    return CRASHED_HINT


def _server_died_starting(evidence: Evidence) -> bool:
    """The manager's server died of a cause a rule names (a spawn server re-importing a main
    module without its guard): that finding explains the broken proxies."""
    from mpdoctor.diagnose.causes import died_importing_main

    return any(
        p.started_as == "manager" and died_importing_main(p) for p in evidence.processes.values()
    )
