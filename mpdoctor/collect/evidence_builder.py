"""Join probe events and monitor samples into `Evidence` (pure: no I/O, no clock).

Identity: a probe file `<pid>-<ticks>` and a sample share the key (pid, create_time), both
computed by `identity.key_from_ticks`. Events that name another process by pid only (a parent's
child-start / child-exit, a sender's kill) are matched to the process with that pid that had
been created by the time of the event (the latest such: a reused pid is a later process).

Exit status, first source that has it: the monitor's own waitpid (the main process, and orphans
it reaped as subreaper), the parent's probe (multiprocessing reaped it), the zombie's
/proc/PID/stat field 52 as sampled.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from mpdoctor.collect import identity
from mpdoctor.collect.events import (
    BootstrapEvent,
    ChildExitEvent,
    ChildStartEvent,
    ExceptionEvent,
    ForkThreadsEvent,
    JoinEvent,
    KillEvent,
    ManagerEndEvent,
    MpEvent,
    PoolEndEvent,
    PoolEvent,
    ProcessEvents,
    ResourceEvent,
    StartEvent,
    UnpicklableEvent,
    WarningEvent,
)
from mpdoctor.collect.sampler import ProcessSample
from mpdoctor.diagnose.evidence import (
    Evidence,
    ExceptionInfo,
    ForkThreadInfo,
    HangSnapshot,
    JoinInfo,
    KillEvidence,
    ManagerEndEvidence,
    PicklingEvidence,
    PoolEvidence,
    ProcessEvidence,
    ProcessKey,
    ResourceEvidence,
    WarningEvidence,
)

# A create_time is the start truncated to a clock tick (1/100 s): a process may look created up
# to one tick before an event it wrote or caused. Slack for comparing both.
_TICK_SLACK = 0.02

# multiprocessing's helpers, recognized by their command line (FAILURES.md D3).
_HELPER_MARKERS = (
    ("from multiprocessing.forkserver import main", "forkserver"),
    ("multiprocessing.resource_tracker import main", "resource-tracker"),
    ("multiprocessing.semaphore_tracker import main", "resource-tracker"),  # Python 3.7
)


@dataclass
class BuildInputs:
    """Everything the monitor collected, for `build_evidence`."""

    t0: float  # time.time() when the target was launched
    streams: list[ProcessEvents]
    samples: dict[ProcessKey, ProcessSample]
    main_key: ProcessKey | None
    main_status: int | None = None  # raw wait status of the main process
    main_ended_s: float | None = None
    # What mpdoctor executed as the main process: its command line when /proc could not give
    # it (it ended before it was read, or was first seen as a zombie).
    main_argv: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    alive_after_main: Iterable[ProcessKey] = ()
    ended_by_mpdoctor: Iterable[ProcessKey] = ()
    cgroup_oom_kills: int | None = None
    respawn_stopped_parent: int | None = None
    hang: HangSnapshot | None = None
    platform: str = field(default_factory=lambda: sys.platform)
    notes: list[str] = field(default_factory=list)
    key_from_ticks: Callable[[int, int], ProcessKey] = identity.key_from_ticks
    clock_skew: float = 0.0  # identity.clock_skew(): create_time - skew is a wall time


def decode_status(status: int) -> tuple[int | None, int | None]:
    """(exit_code, signal) of a raw wait status."""
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status), None
    return None, None


def decode_exitcode(exitcode: int) -> tuple[int | None, int | None]:
    """(exit_code, signal) of multiprocessing's Process.exitcode (negative: the signal)."""
    return (None, -exitcode) if exitcode < 0 else (exitcode, None)


def helper_role(cmdline: list[str]) -> str | None:
    text = " ".join(cmdline)
    for marker, role in _HELPER_MARKERS:
        if marker in text:
            return role
    return None


class _Builder:
    def __init__(self, inputs: BuildInputs):
        self.inp = inputs
        self.procs: dict[ProcessKey, ProcessEvidence] = {}
        self.exit_rank: dict[ProcessKey, int] = {}
        self.fork_threads: dict[int, list[ForkThreadsEvent]] = {}  # by the forking pid
        self.forked: set[ProcessKey] = set()  # processes whose probe says os.fork made them
        self.argv_from_probe: set[ProcessKey] = set()  # command lines rebuilt from sys.argv

    def rel(self, t: float) -> float:
        return round(t - self.inp.t0, 3)

    def started_s(self, key: ProcessKey) -> float:
        return max(0.0, self.rel(key.create_time - self.inp.clock_skew))

    # -- processes -------------------------------------------------------------------------
    def add_samples(self) -> None:
        for key, s in self.inp.samples.items():
            pe = ProcessEvidence(
                key=key,
                ppid=s.ppid,
                cmdline=list(s.cmdline),
                exe=s.exe,
                name=s.name,
                state=s.state,
                cpu_s=s.cpu_s,
                peak_rss_bytes=s.peak_rss_bytes,  # VmHWM only: None is unknown
                num_threads=s.num_threads,
                started_s=_earlier(self.started_s(key), _r(s.first_seen_s)),
                zombie_since_s=_r(s.zombie_since_s),
                zombie_until_s=_r(s.zombie_until_s),
            )
            ended = [t for t in (s.zombie_since_s, s.reaped_s, s.gone_s) if t is not None]
            if ended:
                pe.ended_s = _r(min(ended))
                pe.state = "exited"
            self.procs[key] = pe
            if s.reaped_status is not None:
                self.set_exit(pe, *decode_status(s.reaped_status), "monitor-reap", 0)
            elif s.zombie_status is not None:
                self.set_exit(pe, *decode_status(s.zombie_status), "zombie-stat", 2)

    def stream_key(self, stream: ProcessEvents) -> ProcessKey:
        if stream.ticks is not None:
            return self.inp.key_from_ticks(stream.pid, stream.ticks)
        start = stream.first(StartEvent)
        found = self.find(stream.pid, start.t if start else None)
        if found is not None:
            return found.key
        return ProcessKey(stream.pid, round(start.t + self.inp.clock_skew, 2) if start else 0.0)

    def add_stream(self, stream: ProcessEvents) -> None:
        key = self.stream_key(stream)
        pe = self.procs.get(key)
        start: StartEvent | None = stream.first(StartEvent)
        if pe is None:  # lived and ended between two samples: known from its own events only
            argv = start.argv if start else []
            exe = start.exe if start else None
            pe = ProcessEvidence(
                key=key,
                ppid=start.ppid if start else None,
                cmdline=[exe or "python", *argv] if argv else [],
                exe=exe,
                name=os.path.basename(exe) if exe else None,
                state="exited",
                started_s=self.started_s(key),
            )
            self.procs[key] = pe
            if argv:
                self.argv_from_probe.add(key)
        pe.probed = True
        if start is not None:
            # After an exec into another Python the file gets a second start: the last one
            # names the program that ran last; the first one's parent is the real parent.
            latest: StartEvent = stream.last(StartEvent)
            if not pe.cmdline and latest.argv:  # sampled only as a zombie: no /proc cmdline
                pe.cmdline = [latest.exe or "python", *latest.argv]
                self.argv_from_probe.add(key)
            pe.python = latest.py
            pe.exe = pe.exe or latest.exe
            pe.started_s = _earlier(pe.started_s, max(0.0, self.rel(start.t)))
            if start.ppid is not None:
                pe.ppid = start.ppid  # the real parent, even after it was reparented
            if start.forked:
                self.forked.add(key)
                pe.threads_at_fork = start.threads_at_fork
        self.fork_threads.setdefault(stream.pid, []).extend(stream.of(ForkThreadsEvent))
        pe.joins.extend(JoinInfo(e.child, e.ident, self.rel(e.t)) for e in stream.of(JoinEvent))
        boot: BootstrapEvent | None = stream.first(BootstrapEvent)
        if boot is not None:
            pe.name = boot.name or pe.name
            pe.start_method = boot.method or pe.start_method
            pe.daemon = boot.daemon if boot.daemon is not None else pe.daemon
        mp: MpEvent | None = stream.first(MpEvent)
        if mp is not None and mp.role in ("forkserver", "resource-tracker"):
            pe.started_as = pe.started_as or mp.role
        for exc in stream.of(ExceptionEvent):
            info = ExceptionInfo(exc.type, exc.message, exc.traceback, list(exc.frames), exc.where)
            if exc.where == "task":
                pe.task_exceptions.append(info)
            elif pe.exception is None:
                pe.exception = info

    def attach_fork_threads(self) -> None:
        """Give each child forked while other threads ran its parent's record of them (the
        parent's last `fork-threads` before the child started)."""
        for key in self.forked:
            pe = self.procs[key]
            if not pe.threads_at_fork or pe.threads_at_fork < 2 or pe.ppid is None:
                continue
            born = pe.started_s if pe.started_s is not None else float("inf")
            before = [
                e
                for e in self.fork_threads.get(pe.ppid, [])
                if self.rel(e.t) <= born + _TICK_SLACK * 5
            ]
            if before:
                event = max(before, key=lambda e: e.t)
                pe.fork_threads = [ForkThreadInfo(t.name, list(t.frames)) for t in event.threads]

    def find(self, pid: int, t: float | None) -> ProcessEvidence | None:
        """The process that had `pid` at time `t` (the latest created by then)."""
        candidates = [p for k, p in self.procs.items() if k.pid == pid]
        if t is not None:
            latest = t + self.inp.clock_skew + _TICK_SLACK
            candidates = [p for p in candidates if p.key.create_time <= latest]
        return max(candidates, key=lambda p: p.key.create_time, default=None)

    def set_exit(
        self, pe: ProcessEvidence, code: int | None, sig: int | None, seen_by: str, rank: int
    ) -> None:
        """Record an exit status unless a more direct source (lower rank) already did."""
        if code is None and sig is None:
            return
        if self.exit_rank.get(pe.key, 99) <= rank:
            return
        self.exit_rank[pe.key] = rank
        pe.exit_code, pe.signal, pe.exit_seen_by = code, sig, seen_by
        pe.state = "exited"

    # -- what parents and senders said ------------------------------------------------------
    def apply_parent_events(self, stream: ProcessEvents) -> None:
        for ev in stream.of(ChildStartEvent):
            child = self.find(ev.child, ev.t)
            if child is None:  # never sampled, never probed: only its parent knew it
                child = ProcessEvidence(
                    key=ProcessKey(ev.child, round(ev.t + self.inp.clock_skew, 2)),
                    ppid=stream.pid,
                    cmdline=[],
                    state="exited",
                    started_s=max(0.0, self.rel(ev.t)),
                )
                self.procs[child.key] = child
            child.started_s = _earlier(child.started_s, max(0.0, self.rel(ev.t)))
            child.started_as = ev.child_kind or child.started_as
            child.pool_id = ev.pool or child.pool_id
            child.start_site = ev.site or child.start_site
            child.target = ev.target or child.target
            child.name = ev.name or child.name
            child.start_method = ev.method or child.start_method
            if ev.daemon is not None:
                child.daemon = ev.daemon
        for ev in stream.of(ChildExitEvent):
            child = self.find(ev.child, ev.t)
            if child is None:
                continue
            self.set_exit(child, *decode_exitcode(ev.exitcode), "parent-probe", 1)
            reaped_s = self.rel(ev.t)
            if child.ended_s is None or child.ended_s > reaped_s:
                child.ended_s = reaped_s
            # Seen a zombie: it stayed one until this reap, not only until the last sample
            # (the sampler looks only once a second at an unchanging tree).
            if child.zombie_until_s is not None and child.zombie_until_s < reaped_s:
                child.zombie_until_s = reaped_s
        for ev in stream.of(KillEvent):
            # os.killpg names a group: recorded on its leader (the group is not sampled).
            target = self.find(ev.target, ev.t)
            if target is None:
                continue  # not a process of this run
            target.kills.append(
                KillEvidence(
                    sender_pid=stream.pid,
                    target_pid=ev.target,
                    signal=ev.sig,
                    t_s=self.rel(ev.t),
                    via=ev.via,
                    site=ev.site,
                )
            )

    def pools(self) -> list[PoolEvidence]:
        pools: dict[str, PoolEvidence] = {}
        for stream in self.inp.streams:
            for ev in stream.of(PoolEvent):
                pools[ev.pool] = PoolEvidence(
                    pool_id=ev.pool,
                    kind=ev.pool_kind,
                    owner_pid=stream.pid,
                    size=ev.size,
                    start_method=ev.method,
                    site=ev.site,
                    created_s=self.rel(ev.t),
                )
        for stream in self.inp.streams:
            for ev in stream.of(PoolEndEvent):
                pool = pools.get(ev.pool)
                if pool is not None and pool.ended_s is None:
                    pool.ended_s = self.rel(ev.t)
                    pool.ended_how = ev.how
        return sorted(pools.values(), key=lambda p: p.created_s)

    def warnings(self) -> list[WarningEvidence]:
        out = [
            WarningEvidence(
                pid=stream.pid,
                t_s=self.rel(ev.t),
                category=ev.category,
                message=ev.message,
                filename=ev.filename,
                lineno=ev.lineno,
            )
            for stream in self.inp.streams
            for ev in stream.of(WarningEvent)
        ]
        return sorted(out, key=lambda w: w.t_s)

    def resources(self) -> list[ResourceEvidence]:
        """Registrations with the resource tracker, matched to their unregistration by name
        (another process may unlink what this one created)."""
        ops = sorted(
            (
                (ev.t, stream.pid, ev)
                for stream in self.inp.streams
                for ev in stream.of(ResourceEvent)
            ),
            key=lambda item: item[0],
        )
        open_: dict[tuple[str, str], ResourceEvidence] = {}
        announced: set[tuple[str, str]] = set()  # a semaphore's `create` stands for its register
        out: list[ResourceEvidence] = []
        for t, pid, ev in ops:
            key = (ev.rtype, ev.name)
            if ev.op == "create" or (ev.op == "register" and key not in announced):
                if ev.op == "create":
                    announced.add(key)
                res = ResourceEvidence(pid, ev.name, ev.rtype, self.rel(t), ev.site)
                open_[key] = res
                out.append(res)
            elif ev.op == "unregister" and (found := open_.pop(key, None)):
                announced.discard(key)
                found.unregistered_s = self.rel(t)
        return out

    def manager_ends(self) -> list[ManagerEndEvidence]:
        out = [
            ManagerEndEvidence(stream.pid, ev.manager, self.rel(ev.t), ev.site, ev.exiting)
            for stream in self.inp.streams
            for ev in stream.of(ManagerEndEvent)
        ]
        return sorted(out, key=lambda m: m.t_s)

    def pickling(self) -> list[PicklingEvidence]:
        out = [
            PicklingEvidence(
                pid=stream.pid,
                t_s=self.rel(ev.t),
                what=ev.what,
                error=ev.error,
                members=list(ev.members),
                truncated=ev.truncated,
                api=ev.api,
                site=ev.site,
                awaited=ev.awaited,
                function=ev.function,
                raised=ev.raised,
                dropped=ev.dropped,
            )
            for stream in self.inp.streams
            for ev in stream.of(UnpicklableEvent)
        ]
        return sorted(out, key=lambda p: p.t_s)

    # -- the run ---------------------------------------------------------------------------
    def apply_main(self) -> ProcessKey | None:
        key = self.inp.main_key
        if key is None:
            return None
        pe = self.procs.get(key)
        if pe is None:
            pe = ProcessEvidence(key=key, ppid=None, cmdline=[], state="exited", started_s=0.0)
            self.procs[key] = pe
        if self.inp.main_status is not None:
            self.set_exit(pe, *decode_status(self.inp.main_status), "monitor-reap", 0)
        if self.inp.main_ended_s is not None:
            pe.ended_s = round(self.inp.main_ended_s, 3)
            pe.state = "exited"
        if self.inp.main_argv and (not pe.cmdline or key in self.argv_from_probe):
            pe.cmdline = list(self.inp.main_argv)  # exact, where sys.argv is a guess
        return key

    def finish(self) -> None:
        for key in self.inp.alive_after_main:
            if key in self.procs:
                self.procs[key].alive_after_main = True
        for key in self.inp.ended_by_mpdoctor:
            if key in self.procs:
                self.procs[key].ended_by_mpdoctor = True
        cmdlines_by_pid: dict[int, list[list[str]]] = {}
        for proc in self.procs.values():
            cmdlines_by_pid.setdefault(proc.key.pid, []).append(proc.cmdline)
        for pe in self.procs.values():
            # A fork child shares its parent's command line: a forkserver's children are
            # not fork servers themselves.
            if pe.started_as is None:
                role = helper_role(pe.cmdline)
                if role is not None and not self._forked_copy(pe, cmdlines_by_pid):
                    pe.started_as = role
            if pe.name is None and pe.exe:
                pe.name = os.path.basename(pe.exe)
            # Every end time is measured after the end, a start from a create_time may be up to
            # a tick late (ticks are 10 ms, and so is the clock skew's reading): a process too
            # short for that never ends before it starts.
            if pe.ended_s is not None and pe.started_s is not None:
                pe.started_s = min(pe.started_s, pe.ended_s)

    def _forked_copy(
        self, pe: ProcessEvidence, cmdlines_by_pid: dict[int, list[list[str]]]
    ) -> bool:
        if pe.key in self.forked:
            return True
        return pe.ppid is not None and pe.cmdline in cmdlines_by_pid.get(pe.ppid, [])


def _r(t: float | None) -> float | None:
    return None if t is None else round(t, 3)


def _earlier(started_s: float | None, bound_s: float | None) -> float | None:
    """A start time no later than `bound_s`, a time the process is known to have existed at (its
    first event, its parent's word that it started, its first sample): a start computed from a
    create_time is only as good as a clock tick."""
    if started_s is None or bound_s is None:
        return started_s if bound_s is None else bound_s
    return min(started_s, bound_s)


def build_evidence(inputs: BuildInputs) -> Evidence:
    b = _Builder(inputs)
    b.add_samples()
    for stream in inputs.streams:
        b.add_stream(stream)
    main = b.apply_main()
    for stream in inputs.streams:
        b.apply_parent_events(stream)
    b.finish()
    b.attach_fork_threads()
    ordered = dict(sorted(b.procs.items(), key=lambda kv: (kv[0].create_time, kv[0].pid)))
    return Evidence(
        main=main,
        processes=ordered,
        pools=b.pools(),
        warnings=b.warnings(),
        resources=b.resources(),
        pickling=b.pickling(),
        manager_ends=b.manager_ends(),
        respawn_stopped_parent=inputs.respawn_stopped_parent,
        hang=inputs.hang,
        cgroup_oom_kills=inputs.cgroup_oom_kills,
        duration_s=round(inputs.duration_s, 3),
        main_ended_s=_r(inputs.main_ended_s),
        platform=inputs.platform,
        notes=list(inputs.notes),
    )
