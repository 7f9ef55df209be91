"""How a process ended, and whether that end is a problem or somebody's deliberate clean-up.

Shared by the crash rules (`process-crashed`, `worker-died`) so both judge a death the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from mpdoctor.diagnose.evidence import Evidence, KillEvidence, ProcessEvidence
from mpdoctor.diagnose.family import describe as describe_process
from mpdoctor.diagnose.family import parent_of, process_at, start_location
from mpdoctor.diagnose.signals import SIGINT, SIGKILL, SIGTERM, signal_name
from mpdoctor.diagnose.tracebacks import short_type
from mpdoctor.diagnose.wording import human_bytes, location, plural, seconds, where
from mpdoctor.model import Location

# Kills the program meant: a Pool's terminate() (its `with` block), an executor's shutdown of a
# broken pool, Process.terminate()/kill(), multiprocessing's exit handler ending daemonic
# children ("mp-exit"), a Manager shutting down its server.
DELIBERATE_VIA = frozenset(
    {"pool-terminate", "executor-shutdown", "process-terminate", "mp-exit", "manager-shutdown"}
)


_START_SLACK_S = 0.05


@dataclass(frozen=True)
class Death:
    """An abnormal end: a signal, or a non-zero exit code (never both)."""

    signal: int | None = None
    exit_code: int | None = None


def death_of(proc: ProcessEvidence) -> Death | None:
    """The abnormal end of `proc`, or None when it exited 0, still runs, or nobody saw its end.

    multiprocessing reports a signal as a negative exitcode; both spellings are accepted. An
    unhandled exception in a process that ended means exit code 1 even when nobody saw the code.
    """
    if proc.signal:
        return Death(signal=proc.signal)
    if proc.exit_code is not None and proc.exit_code < 0:
        return Death(signal=-proc.exit_code)
    if proc.exit_code:
        return Death(exit_code=proc.exit_code)
    if proc.exit_code is None and proc.exception is not None and _ended(proc):
        return Death(exit_code=1)  # what _bootstrap exits with after printing the traceback
    return None


def _ended(proc: ProcessEvidence) -> bool:
    return proc.ended_s is not None or proc.state in ("exited", "zombie")


def killer_of(proc: ProcessEvidence, death: Death) -> KillEvidence | None:
    """The probe-reported kill that delivered the fatal signal (the last one, if several)."""
    if death.signal is None:
        return None
    # started_s comes from a create_time truncated to a clock tick (and corrected for clock
    # skew): a process that signals itself at once may seem to do so a little before it began.
    started = proc.started_s - _START_SLACK_S if proc.started_s is not None else float("-inf")
    ended = proc.ended_s if proc.ended_s is not None else float("inf")
    matching = [
        k
        for k in proc.kills
        if k.signal == death.signal and k.target_pid == proc.key.pid and started <= k.t_s <= ended
    ]
    return max(matching, key=lambda k: k.t_s, default=None)


def kill_location(proc: ProcessEvidence, death: Death) -> Location | None:
    """The user's line that sent the fatal signal, when a probed process sent it."""
    kill = killer_of(proc, death)
    if kill is None or kill.site is None:
        return None
    return location("killed", kill.site, kill.sender_pid)


def start_and_kill_locations(
    proc: ProcessEvidence, death: Death, evidence: Evidence
) -> list[Location]:
    """Where `proc` was started and, when a probed process killed it, the line that did."""
    found = (start_location(proc, evidence), kill_location(proc, death))
    return [loc for loc in found if loc is not None]


def is_deliberate(proc: ProcessEvidence, death: Death) -> bool:
    """The end was asked for: mpdoctor's tear-down, the program's own terminate(), or Ctrl-C."""
    if proc.ended_by_mpdoctor:
        return True
    # Ctrl-C reaches every process of the foreground group; each one's KeyboardInterrupt is
    # the user's request, not a crash.
    if death.signal == SIGINT:
        return True
    if proc.exception is not None and short_type(proc.exception.type) == "KeyboardInterrupt":
        return True
    kill = killer_of(proc, death)
    return kill is not None and kill.via in DELIBERATE_VIA


def _unexplained_sigkills(evidence: Evidence) -> int:
    count = 0
    for proc in evidence.processes.values():
        death = death_of(proc)
        if death and death.signal == SIGKILL and not proc.ended_by_mpdoctor:
            if killer_of(proc, death) is None:
                count += 1
    return count


def oom_proven(evidence: Evidence) -> bool:
    """The cgroup counted at least as many OOM kills as there are SIGKILLs nobody sent."""
    kills = evidence.cgroup_oom_kills
    return bool(kills) and kills >= _unexplained_sigkills(evidence)


def died_at(proc: ProcessEvidence, death: Death) -> float | None:
    """When it died: the fatal kill if one was recorded (the reap, `ended_s`, comes later)."""
    kill = killer_of(proc, death)
    if kill is not None and (proc.ended_s is None or kill.t_s < proc.ended_s):
        return kill.t_s
    return proc.ended_s


def _sent_by(kill: KillEvidence, proc: ProcessEvidence, evidence: Evidence) -> str:
    """ "sent by the main process (pid 4240) at app.py:30", or "it sent itself at ..."."""
    at = f" at {where(kill.site)}" if kill.site else ""
    if kill.sender_pid == proc.key.pid:
        return f"it sent itself{at}"
    sender = process_at(evidence, kill.sender_pid, kill.t_s)
    who = describe_process(sender, evidence) if sender else f"pid {kill.sender_pid}"
    return f"sent by {who}{at}"


def describe(proc: ProcessEvidence, death: Death, evidence: Evidence) -> tuple[str, list[str]]:
    """("was killed by SIGKILL, possibly by the OOM killer", evidence lines)."""
    lines = [_status_line(proc, death, evidence)]
    if death.signal is None:
        return f"exited with code {death.exit_code}", lines
    name = signal_name(death.signal, evidence.platform)
    kill = killer_of(proc, death)
    if kill is not None:
        lines.append(
            f"kill: pid {kill.sender_pid} sent {name} at {seconds(kill.t_s)} (via {kill.via})"
        )
        text = f"was killed by {name} {_sent_by(kill, proc, evidence)}"
    elif death.signal == SIGKILL and oom_proven(evidence):
        text = "was killed by the OOM killer (SIGKILL)"
    elif death.signal == SIGKILL and evidence.cgroup_oom_kills == 0:
        # the counter counts every OOM kill of the cgroup's processes, the global killer's too
        text = "was killed by SIGKILL, not by the OOM killer (the cgroup counted none)"
    elif death.signal == SIGKILL:
        text = "was killed by SIGKILL, possibly by the OOM killer"
    else:
        text = f"was killed by {name}"
    if death.signal == SIGKILL and kill is None:
        if evidence.cgroup_oom_kills is None:
            lines.append("cgroup memory.events: unreadable, OOM kills not counted")
        else:
            count = plural(evidence.cgroup_oom_kills, "OOM kill")
            lines.append(f"cgroup memory.events: {count} during the run")
        if proc.peak_rss_bytes is not None:
            lines.append(f"peak memory (VmHWM): {human_bytes(proc.peak_rss_bytes)}")
    return text, lines


def _status_line(proc: ProcessEvidence, death: Death, evidence: Evidence) -> str:
    if death.signal is not None:
        status = f"signal {death.signal} ({signal_name(death.signal, evidence.platform)})"
    else:
        status = f"exit code {death.exit_code}"
    seen = f", seen by {proc.exit_seen_by}" if proc.exit_seen_by else ""
    when = f" at {seconds(proc.ended_s)}" if proc.ended_s is not None else ""
    return f"exit status: {status}{when}{seen}"


def sender_unknowable(proc: ProcessEvidence, death: Death, evidence: Evidence) -> bool:
    """A SIGTERM whose likely sender, the parent, ran without the probe: it may well be the
    parent's own clean-up (a Pool's terminate, atexit for daemons), which nothing recorded."""
    if death.signal != SIGTERM or killer_of(proc, death) is not None:
        return False
    parent = parent_of(proc, evidence)
    return parent is None or not parent.probed
