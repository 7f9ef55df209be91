"""`run_target`: run the program under the probe and the monitor, return what was learned.

Order matters for the fixed cost: everything before the spawn is cheap (no psutil, no rich),
the target starts, and only then does the monitor load the rest and start sampling, in
parallel with the target's own start-up.
"""

from __future__ import annotations

import os
import resource
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mpdoctor.collect import cgroup, subreaper
from mpdoctor.collect.launcher import (
    Interpreter,
    Target,
    ask_version,
    build_argv,
    check_interpreter,
    default_interpreter,
    probe_blocker,
    signals_to_default,
    spawn,
)
from mpdoctor.collect.session import (
    DEFAULT_STACK_SIGNAL,
    Session,
    create_session,
    target_env,
)
from mpdoctor.collect.signals import Received, SignalGate, die_by_signal, signal_name
from mpdoctor.errors import EXIT_STOPPED

if TYPE_CHECKING:
    from mpdoctor.collect.reaper import Reaped, Reaper
    from mpdoctor.collect.sampler import Sampler
    from mpdoctor.diagnose.evidence import Evidence, HangSnapshot, ProcessKey
    from mpdoctor.model import Environment, Outcome  # loaded after the spawn (fixed cost)

_MIN_PROBED = (3, 8)


@dataclass
class RunOptions:
    """How `run_target` runs and watches the program."""

    python: str | None = None  # --python PATH; default: `python`, else `python3`, on PATH
    mp_log: str = "info"  # off | warning | info | debug | subdebug
    timeout: float | None = None  # seconds; then the tree is ended, outcome "timeout"
    keep_orphans: bool = False  # leave descendants alive after the main process exits
    sample_interval: float = 0.25
    helper_grace: float = 2.0  # how long multiprocessing's helpers may outlive main
    start_method: str | None = None  # --start-method: the default start method of every process
    only_methods: tuple[str, ...] = ()  # the only start methods that exist (Windows-like: spawn)
    output: str | None = None  # a file for the program's stdout and stderr (stdin: /dev/null)
    hang_after: float | None = 10.0  # a tree stalled this long is examined and reported
    keep_going: bool = False  # report a proven deadlock but let the program run on
    stack_signal: int = DEFAULT_STACK_SIGNAL  # 0: no stacks
    # Called with the evidence so far when the tree stalls (no-progress, the program still
    # runs) and just before mpdoctor stops it (its last report; the tree is ended after).
    on_report: Callable[[RunResult], None] | None = None


@dataclass(frozen=True)
class ReceivedSignal:
    """A signal mpdoctor received while the program ran, and whether it passed it on."""

    signo: int
    name: str
    sender_pid: int | None
    t_s: float
    forwarded: bool  # False: the terminal already sent it to the target (Ctrl-C)


@dataclass
class RunResult:
    """What `run_target` learned: the evidence, the outcome, the notes."""

    evidence: Evidence
    outcome: Outcome
    command: list[str]  # the argv that was started
    interpreter: str | None  # the interpreter launched (None for `-- COMMAND` ...)
    interpreter_exe: str | None  # sys.executable as the main process's probe reported it
    python_version: str | None
    start_method: str | None  # what the main process used (its children, else its default)
    notes: list[str] = field(default_factory=list)
    # --start-method's method when no process registered the probe, so it was never applied
    start_method_not_applied: str | None = None
    signals: list[ReceivedSignal] = field(default_factory=list)
    monitor_cpu_s: float = 0.0  # CPU the monitor itself used, both threads
    samples_taken: int = 0
    reported: bool = False  # the report was printed before mpdoctor ended the tree
    _gate: SignalGate | None = None

    @property
    def environment(self) -> Environment:
        """The report's `environment`: the target's interpreter, this machine."""
        from mpdoctor.model import Environment

        return Environment.here(
            self.python_version, self.interpreter or self.interpreter_exe, self.start_method
        )

    def exit_code(self) -> int:
        """The code `mpdoctor run` exits with (a signal death is 128+N here; see finish())."""
        if self.outcome.whose == "mpdoctor":
            return EXIT_STOPPED
        if self.outcome.signal is not None:
            return 128 + self.outcome.signal
        return self.outcome.exit_code if self.outcome.exit_code is not None else 0

    def finish(self) -> int:
        """Die by the target's signal if it died by one (never returns then); else the code."""
        if self.outcome.status == "signaled" and self.outcome.signal is not None:
            die_by_signal(self.outcome.signal)
        return self.exit_code()

    def restore_signals(self) -> None:
        """Unblock the monitor's signals (for callers that go on running afterwards)."""
        if self._gate is not None:
            self._gate.restore()
            self._gate = None


def resolve_interpreter(target: Target, options: RunOptions) -> Interpreter | None:
    if options.python:
        return check_interpreter(options.python)
    if target.kind == "command":
        return None
    return default_interpreter()


def run_target(target: Target, options: RunOptions | None = None) -> RunResult:
    """Run `target` to its end (or timeout), watching its whole tree. Signals stay blocked
    on return (call `restore_signals()` to go on normally, or exit)."""
    options = options or RunOptions()
    interp = resolve_interpreter(target, options)
    path, argv = build_argv(
        target, interp.path if interp else None, interp.argv0 if interp else None
    )
    notes: list[str] = []
    if target.kind == "command":
        blocker = probe_blocker(argv)
        if blocker:
            notes.append(blocker)
        if options.python:
            notes.append("--python is not used with `-- COMMAND`: the command picks its Python")
    if interp and interp.version and _version_tuple(interp.version) < _MIN_PROBED:
        notes.append(
            f"Python {interp.version} is older than 3.8: the probe stays silent, "
            "monitoring with psutil only"
        )
    session = create_session()
    try:
        env = target_env(
            session,
            options.mp_log,
            start_method=options.start_method,
            only_methods=options.only_methods,
            stack_signal=options.stack_signal,
        )
        oom_start = cgroup.oom_kills()
        gate = SignalGate.install()
        try:
            reaping = subreaper.enable()
            usage0 = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.time()
            pid = spawn(
                path,
                argv,
                env,
                sigmask=gate.original_mask,
                sigdef=signals_to_default(gate.reset_in_child),
                output=options.output,
            )
        except BaseException:
            gate.restore()
            raise
        if not reaping and sys.platform.startswith("linux"):
            notes.append("could not become child subreaper: orphaned processes may be missed")
        try:
            monitor = _Monitor(pid, t0, gate, session, options, notes)
        except BaseException:
            _wait_plainly(pid)  # cannot monitor: still never leave the program unwaited
            raise
        monitor.command, monitor.interpreter = argv, interp.path if interp else None
        try:
            result = monitor.run()
        finally:
            from mpdoctor.collect import stale_sessions

            stale_sessions.release(monitor.claim_fd)
        result.command = argv
        result.interpreter = interp.path if interp else None
        result.evidence.cgroup_oom_kills = cgroup.oom_kills_between(oom_start, cgroup.oom_kills())
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
        result.monitor_cpu_s = round(
            usage1.ru_utime - usage0.ru_utime + usage1.ru_stime - usage0.ru_stime, 4
        )
        _fill_interpreter(result, interp)
        return result
    finally:
        session.cleanup()


class _Monitor:
    def __init__(
        self,
        pid: int,
        t0: float,
        gate: SignalGate,
        session: Session,
        options: RunOptions,
        notes: list[str],
    ):
        # Loaded after the spawn, while the target starts up; what builds the evidence too,
        # so that nothing is left to import once the target has exited.
        from mpdoctor.collect import evidence_builder, identity, stale_sessions  # noqa: F401
        from mpdoctor.collect.reaper import Reaper
        from mpdoctor.collect.respawn import RespawnWatch
        from mpdoctor.collect.sampler import Sampler

        self.claim_fd = stale_sessions.claim(session.path)  # released by run_target
        self.pid = pid
        self.t0 = t0
        self.gate = gate
        self.session = session
        self.options = options
        self.notes = notes
        self.signals: list[ReceivedSignal] = []
        self.sampler: Sampler = Sampler(
            os.getpid(), t0, interval=options.sample_interval, events_dir=session.events_dir
        )
        self.reaper: Reaper = Reaper(pid, before_reap=self.sampler.sample_pid)
        self.respawn = RespawnWatch(session.alerts_dir)
        self.looping_parent: int | None = None  # set when mpdoctor stops a respawn loop
        self.main_key: ProcessKey | None = None
        self.clock_skew = identity.clock_skew()
        self.stop_now = False  # a signal asked to end the run early
        from mpdoctor.collect.hangwatch import TURN_S, HangWatch

        self.turn_s = TURN_S

        self.hangs: HangWatch | None = HangWatch(
            session.path,
            options.hang_after,
            build=self.evidence_now,
            on_stall=self._report_stall if options.on_report else None,
            stack_signal=options.stack_signal or None,
        )
        self.hang: HangSnapshot | None = None  # the snapshot of a hang that lasted to the end
        self.reported_stop = False  # the stop's report was printed before the tear-down
        self._streams_seen: list = []  # the main process's event streams, at the last build
        self._streams_all: list = []  # every process's event streams, at the last build
        self.command: list[str] = []  # what was spawned: for the reports made while the program
        # runs, and the main process's command line when /proc could not give it
        self.interpreter: str | None = None

    # -- events of the loop ----------------------------------------------------------------
    def reap(self) -> None:
        had_target = self.reaper.target is not None
        for reaped in self.reaper.reap_orphans():
            self.sampler.record_reap(reaped)
        target = self.reaper.poll_target()
        if target is not None and not had_target:
            self.main_key = target.key
            self.sampler.record_reap(target)

    def on_signal(self, got: Received, target_alive: bool) -> None:
        forwarded = False
        if target_alive:
            self.sampler.sample()  # the snapshot first: the signal may end everything
            # What a report already said stands: a signal sent to the whole group (Ctrl-C, a
            # CI runner, `timeout`) is ending the tree while we look, and its deaths read as
            # progress. A proven deadlock kept by --keep-going is never replaced.
            if self.hang is None:
                reported = self.hangs.reported_stall if self.hangs is not None else None
                if got.external:
                    self._examine_if_stalled("signal")
                if reported is not None:
                    self.hang = reported
        if got.external:
            if target_alive:
                try:
                    os.kill(self.pid, got.signo)
                    forwarded = True
                except ProcessLookupError:
                    pass
            else:
                self.stop_now = True  # no target to pass it to: the user wants it over
        self.signals.append(
            ReceivedSignal(
                got.signo, signal_name(got.signo), got.sender_pid, self.now_s(), forwarded
            )
        )

    def now_s(self) -> float:
        return round(time.time() - self.t0, 3)

    def wait(self, timeout: float, target_alive: bool) -> None:
        got = self.gate.wait(timeout)
        while got is not None:
            if got.signo != signal.SIGCHLD:
                self.on_signal(got, target_alive)
            got = self.gate.wait(0)  # drain what else is pending
        self.reap()

    # -- phases ----------------------------------------------------------------------------
    def run(self) -> RunResult:
        try:
            self.reap()
            # A program already over when the monitor is ready (a short script) needs no
            # sampling thread: starting one costs more than the whole run, and what outlived
            # it is polled by await_helpers.
            if self.reaper.target is None:
                self.sampler.start()
            from mpdoctor.collect import stale_sessions

            stale_sessions.sweep(self.session.path.parent, keep=self.session.path)
            stopped = self.watch_main()
            alive_after: list[ProcessKey] = []
            ended: set[ProcessKey] = set()
            if stopped:
                self._report_before_stop(stopped)
                ended = self.end_all()
            else:
                alive_after = self.await_helpers()
                if alive_after and not self.options.keep_orphans:
                    ended = self.end_all()
            self.sampler.sample()
            self.reap()
        except BaseException:
            self.end_all()  # never leave the program running behind a failed monitor
            raise
        finally:
            self.sampler.stop()
        return self.result(stopped, alive_after, ended)

    def watch_main(self) -> str | None:
        """Wait for the main process; why mpdoctor must stop it instead ("timeout",
        "stopped-respawn-loop"), or None once it has exited."""
        timeout = self.options.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.reaper.target is None:
            turn = self.turn_s
            left = turn if deadline is None else min(turn, deadline - time.monotonic())
            if left <= 0:
                self._examine_if_stalled("timeout", at_least=0.0)
                return "timeout"
            self.wait(left, target_alive=True)
            if self.reaper.target is None and self._hung():
                return "deadlock-stopped"
            looping = self.respawn.looping_parent()
            if looping is not None and self.reaper.target is None and not self._interrupted():
                self.looping_parent = looping
                self.notes.append(
                    f"stopped: pid {looping} lost {self.respawn.limit} children that died "
                    "before doing any work, and kept starting new ones"
                )
                return "stopped-respawn-loop"
        return None

    def _tree(self) -> tuple[list[int], float]:
        return self.sampler.activity()

    def _hung(self) -> bool:
        """A proven deadlock held: keep its evidence; True when the tree must be stopped."""
        if self.hangs is None:
            return False
        pids, cpu = self._tree()
        try:
            evidence = self.hangs.turn(self.now_s(), pids, cpu)
        except Exception as exc:  # never lose the program's run to the hang watch
            self._hang_watch_failed(exc)
            return False
        if evidence is None or self.hang is not None:
            return False
        self.reap()
        if self.reaper.target is not None:
            return False  # it ended while we looked: its own status wins
        self.hang = evidence.hang
        if self.options.keep_going:
            self.notes.append("a proven deadlock was reported; --keep-going let it run on")
            if self.options.on_report is not None:
                self.options.on_report(self.partial(evidence, None))
            return False
        return True

    def _examine_if_stalled(self, why: str, at_least: float = 1.0) -> None:
        """Before a timeout or a signal ends the tree: what it waits on, if it is stalled."""
        if self.hangs is None:
            return
        pids, cpu = self._tree()
        try:
            self.hangs.observe(self.now_s(), pids, cpu)
            quiet = self.hangs.progress.quiet_for(self.now_s())
            if pids and quiet >= at_least:
                self.hang = self.hangs.examine(pids, self.now_s(), quiet, why)
        except Exception as exc:
            self._hang_watch_failed(exc)

    def _hang_watch_failed(self, exc: Exception) -> None:
        self.notes.append(f"hang detection stopped after an internal error: {exc!r}")
        self.hangs = None

    def _report_stall(self, evidence: Evidence) -> None:
        self.notes.append(
            f"no progress for {self.options.hang_after:g} s at {self.now_s():.1f} s: reported "
            "while the program ran on"
        )
        assert self.options.on_report is not None
        self.options.on_report(self.partial(evidence, None))

    def evidence_now(self, hang: HangSnapshot | None) -> Evidence:
        """The evidence of the run so far (the program still runs), with `hang`."""
        return self.build(hang=hang, main_status=None, main_ended_s=None, ended=set(), alive=[])

    def _report_before_stop(self, stopped: str) -> None:
        """The report of a tree mpdoctor is about to end, printed first: CI may kill mpdoctor
        during the tear-down, and what the tree waited on is the point."""
        if self.options.on_report is None or stopped == "stopped-respawn-loop":
            return
        if self.hang is not None:
            self.hang.ended = True
        if stopped == "timeout":
            self.notes.append(f"stopped after the {self.options.timeout:g} s timeout")
        evidence = self.evidence_now(self.hang)
        if stopped == "timeout":
            self.notes.pop()  # result() adds it for the final evidence
        try:
            self.options.on_report(self.partial(evidence, self.outcome(stopped)))
            self.reported_stop = True
        except Exception as exc:  # the tear-down must happen whatever the report does
            sys.stderr.write(f"mpdoctor: internal error while reporting: {exc}\n")

    def _interrupted(self) -> bool:
        """A SIGINT reached the tree (Ctrl-C): workers dying of it are the user's doing, not a
        respawn loop, and the program's own clean-up must be left to run."""
        return any(s.signo == signal.SIGINT for s in self.signals)

    def await_helpers(self) -> list[ProcessKey]:
        """Give what outlived main (resource tracker, forkserver...) up to the grace to end."""
        deadline = time.monotonic() + self.options.helper_grace
        alive = self.sampler.refresh()
        while alive and not self.stop_now and time.monotonic() < deadline:
            self.wait(min(0.05, max(0.0, deadline - time.monotonic())), target_alive=False)
            alive = self.sampler.refresh()
        return alive

    def end_all(self) -> set[ProcessKey]:
        from mpdoctor.collect.teardown import end_tree

        result = end_tree(self.sampler, reap=self.reap, last=self._is_resource_tracker)
        if result.survivors:
            self.notes.append(
                "could not end pids "
                + ", ".join(str(k.pid) for k in result.survivors)
                + " (still alive after SIGKILL)"
            )
        if self.reaper.target is None:  # killed a moment ago: collect its status (bounded)
            deadline = time.monotonic() + 2.0
            while self.reaper.target is None and time.monotonic() < deadline:
                self.wait(0.02, target_alive=False)
        return result.ended

    def _is_resource_tracker(self, key: ProcessKey) -> bool:
        from mpdoctor.collect.evidence_builder import helper_role

        sample = self.sampler.processes().get(key)
        return sample is not None and helper_role(sample.cmdline) == "resource-tracker"

    # -- result ----------------------------------------------------------------------------
    def result(
        self, stopped: str | None, alive_after: list[ProcessKey], ended: set[ProcessKey]
    ) -> RunResult:
        from mpdoctor.collect.events import read_events

        target: Reaped | None = self.reaper.target
        not_applied = None
        if self.options.start_method:
            streams = read_events(self.session.events_dir)
            self.notes.extend(_explicit_methods(streams, self.options.start_method))
            if not streams:
                not_applied = self.options.start_method
                self.notes.append(_not_applied_note(not_applied))
        if stopped == "timeout":
            self.notes.append(f"stopped after the {self.options.timeout:g} s timeout")
        if self.hang is not None:
            self.hang.ended = True
        evidence = self.build(
            hang=self.hang,
            main_status=target.status if target else None,
            main_ended_s=(target.t - self.t0) if target else None,
            ended=ended,
            alive=alive_after,
        )
        outcome = self.outcome(stopped)
        self._unlink_leftover_semaphores()
        main_stream = self._streams_seen[-1] if self._streams_seen else None
        return RunResult(
            evidence=evidence,
            outcome=outcome,
            command=[],
            interpreter=None,
            interpreter_exe=_start_field(main_stream, "exe"),
            python_version=_start_field(main_stream, "py"),
            start_method=_start_method(
                main_stream, self.options.start_method, applied=not_applied is None
            ),
            notes=list(self.notes),
            start_method_not_applied=not_applied,
            signals=list(self.signals),
            samples_taken=self.sampler.samples_taken,
            reported=self.reported_stop,
            _gate=self.gate,
        )

    def _unlink_leftover_semaphores(self) -> None:
        """Once the whole tree is gone, the named semaphores it left that no one else would
        unlink (their creator was killed before it registered them, or the tracker died)."""
        if self.sampler.alive() or not sys.platform.startswith("linux"):
            return
        from mpdoctor.collect.leftover_semaphores import unlink_leftovers

        names = unlink_leftovers(self._streams_all)
        if names:
            self.notes.append(
                f"unlinked {len(names)} named semaphore{'s' if len(names) != 1 else ''} the "
                f"program left in /dev/shm ({', '.join(sorted(names)[:5])}"
                f"{', ...' if len(names) > 5 else ''}): no process was left to do it"
            )

    def partial(self, evidence: Evidence, outcome: Outcome | None) -> RunResult:
        """A report of the run so far (outcome "running" while the program goes on)."""
        from mpdoctor.model import Outcome

        main_stream = self._streams_seen[-1] if self._streams_seen else None
        # While the program runs, no probe yet may only mean none has registered so far.
        applied = bool(self._streams_all) or not self.options.start_method
        not_applied = None if applied else self.options.start_method
        return RunResult(
            evidence=evidence,
            outcome=outcome or Outcome("running", None, None, "target", self.now_s()),
            command=self.command,
            interpreter=self.interpreter,
            interpreter_exe=_start_field(main_stream, "exe"),
            python_version=_start_field(main_stream, "py"),
            start_method=_start_method(main_stream, self.options.start_method, applied=applied),
            notes=list(self.notes) + ([_not_applied_note(not_applied)] if not_applied else []),
            start_method_not_applied=not_applied,
            signals=list(self.signals),
        )

    def outcome(self, stopped: str | None) -> Outcome:
        from mpdoctor.collect.evidence_builder import decode_status
        from mpdoctor.model import Outcome

        target: Reaped | None = self.reaper.target
        duration = round(time.time() - self.t0, 3)
        if stopped is not None:
            return Outcome(stopped, EXIT_STOPPED, None, "mpdoctor", duration)
        if target is not None:
            code, sig = decode_status(target.status)
            status = "signaled" if sig is not None else "exited"
            return Outcome(status, code, sig, "target", duration)
        # unreachable in practice: the loop only ends with the target reaped
        return Outcome("interrupted", None, None, "mpdoctor", duration)

    def build(
        self,
        *,
        hang: HangSnapshot | None,
        main_status: int | None,
        main_ended_s: float | None,
        ended: set[ProcessKey],
        alive: list[ProcessKey],
    ) -> Evidence:
        from mpdoctor.collect.events import read_events
        from mpdoctor.collect.evidence_builder import BuildInputs, build_evidence

        streams = read_events(self.session.events_dir)
        self._streams_all = streams
        self._streams_seen = [s for s in streams if s.pid == self.pid]
        evidence = build_evidence(
            BuildInputs(
                t0=self.t0,
                streams=streams,
                samples=self.sampler.processes(),
                main_key=self.main_key or _key_of_pid(self.sampler, self.pid),
                main_status=main_status,
                main_ended_s=main_ended_s,
                main_argv=self.command,
                duration_s=time.time() - self.t0,
                alive_after_main=alive,
                ended_by_mpdoctor=ended,
                notes=self.notes,
                clock_skew=self.clock_skew,
                respawn_stopped_parent=self.looping_parent,
                hang=hang,
            )
        )
        evidence.notes = list(self.notes)
        return evidence


def _wait_plainly(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _key_of_pid(sampler: Sampler, pid: int) -> ProcessKey | None:
    keys = [k for k in sampler.processes() if k.pid == pid]
    return min(keys, key=lambda k: k.create_time, default=None)


def _start_field(stream: object, name: str) -> str | None:
    from mpdoctor.collect.events import StartEvent

    start = stream.first(StartEvent) if stream is not None else None  # type: ignore[attr-defined]
    return getattr(start, name, None) if start is not None else None


def _start_method(stream: object, forced: str | None = None, applied: bool = True) -> str | None:
    """The start method main used: its children's, else the one fixed at import, else default;
    "spawn (forced)" when that is the one --start-method made the default. `applied` False:
    no process registered the probe, so nothing made `forced` the default."""
    from mpdoctor.collect.events import ChildStartEvent, MpEvent

    if forced and not applied:
        return f"unknown (--start-method {forced} not applied: no probe)"
    if stream is None:
        return f"{forced} (forced)" if forced else None
    method = None
    for child in stream.of(ChildStartEvent):  # type: ignore[attr-defined]
        if child.method:
            method = child.method
            break
    else:
        mp = stream.first(MpEvent)  # type: ignore[attr-defined]
        if mp is not None:
            method = mp.method or mp.default_method
    if forced and method in (None, forced):
        return f"{forced} (forced)"
    return method


def _not_applied_note(forced: str) -> str:
    return (
        f"--start-method {forced} was not applied: no process registered the probe, which "
        "sets the default start method, so the program ran under its own default"
    )


def _explicit_methods(streams: list, forced: str) -> list[str]:
    """Notes naming the start methods the program chose itself over the forced default."""
    from mpdoctor.collect.events import ChildStartEvent

    chosen: dict[str, tuple[int, str | None]] = {}
    for stream in streams:
        for child in stream.of(ChildStartEvent):
            if child.method and child.method != forced:
                count, site = chosen.get(child.method, (0, None))
                where = f"{child.site.file}:{child.site.line}" if child.site else None
                chosen[child.method] = (count + 1, site or where)
    return [
        f"the program chose {method} itself for {count} process{'es' if count > 1 else ''}"
        + (f" (first at {site})" if site else "")
        + f"; --start-method {forced} changes only the default"
        for method, (count, site) in chosen.items()
    ]


def _fill_interpreter(result: RunResult, interp: Interpreter | None) -> None:
    if result.python_version is None and interp is not None:
        result.python_version = interp.version or query_version(interp.path)


def query_version(python: str) -> str | None:
    """Ask an interpreter its version (only when the probe could not say: a few ms)."""
    try:
        returncode, version = ask_version(python)
    except OSError:
        return None
    return version if returncode == 0 and version else None


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)
