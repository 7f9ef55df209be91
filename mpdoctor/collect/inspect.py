"""`mpdoctor inspect PID`: look at a live process tree that mpdoctor did not start.

One inspection ties the parts together:

1. the target is checked (`inspect_target`: it exists, is not a zombie nor a kernel thread,
   its /proc is readable);
2. the tree below it is found (`live_tree`: breadth first, keyed by (pid, create_time), at most
   `max_processes`, the rest counted; mpdoctor itself is never part of it);
3. every process is read (state, CPU, threads, RSS, command line) and every thread's wait
   (`hang.snapshot`); the pipes a process outside the tree also holds are marked external
   (`live_waits`); the session of a `mpdoctor run` is found through MPDOCTOR_SESSION
   (`inspect_session`), and stacks are taken by the best means available (`inspect_stacks`);
4. the processes and threads are read again at the end of the interval (0.1 s by default):
   CPU% is the difference; a thread counts as waiting only if it was in the same wait at both
   looks (`live_waits.steady`);
5. all of it becomes `Evidence` through `evidence_builder` (times: seconds since the root
   started), for the same rules and renderers as `run`.

Errors are `MpdoctorError`s with inspect's exit codes (`inspect_target`, `cli/inspect.py`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from mpdoctor.collect import identity, procfs
from mpdoctor.collect.events import ChildExitEvent, ProcessEvents, StartEvent
from mpdoctor.collect.hang import snapshot
from mpdoctor.collect.inspect_session import session_of, sizes_of, tree_streams
from mpdoctor.collect.inspect_stacks import take_stacks
from mpdoctor.collect.inspect_target import (
    EXIT_BAD_TARGET,
    EXIT_FINDINGS,
    EXIT_GONE,
    BadTarget,
    TargetGone,
    check_target,
)
from mpdoctor.collect.live_tree import discover
from mpdoctor.collect.live_waits import mark_outside_holders, steady, visibility_notes
from mpdoctor.collect.progress import CPU_SLACK_S, MIN_CPU_SHARE
from mpdoctor.collect.sampler import (
    ProcessSample,
    ProcfsReader,
    Reading,
    apply_reading,
    new_record,
)
from mpdoctor.diagnose.evidence import Evidence, ProcessKey
from mpdoctor.model import Environment, LiveFigures

__all__ = [
    "EXIT_BAD_TARGET",
    "EXIT_FINDINGS",
    "EXIT_GONE",
    "BadTarget",
    "InspectOptions",
    "Inspection",
    "LiveFigures",
    "TargetGone",
    "environment_of",
    "inspect_tree",
]

INTERVAL_S = 0.1
MAX_PROCESSES = 256


@dataclass
class InspectOptions:
    """How `inspect` looks at a tree."""

    interval_s: float = INTERVAL_S
    max_processes: int = MAX_PROCESSES
    stacks: bool = True


@dataclass
class Inspection:
    """What `inspect` found: the evidence and what it could not read."""

    root: ProcessKey
    evidence: Evidence
    figures: dict[ProcessKey, LiveFigures]
    stacks_means: str  # probe | py-spy | probe+py-spy | none
    stacks_note: str | None  # why none (or for whom not), with the fix
    session: Path | None
    skipped: int = 0  # processes beyond max_processes
    quiet: bool = False  # nothing progressed over the interval
    timings: dict[str, float] = field(default_factory=dict)  # look_s, interval_s, stacks_s
    notes: list[str] = field(default_factory=list)


@dataclass
class _FirstLook:
    """The tree as the first look saw it, before the interval."""

    readings: list[Reading]
    samples: dict[ProcessKey, ProcessSample]
    rss: dict[ProcessKey, int | None]


def inspect_tree(pid: int, options: InspectOptions | None = None) -> Inspection:
    from mpdoctor.collect.evidence_builder import BuildInputs, build_evidence

    options = options or InspectOptions()
    t_first = time.monotonic()
    root = check_target(pid)
    readings, skipped = discover(root, max(1, options.max_processes))
    t_a = time.monotonic()
    skew = identity.clock_skew()
    t0 = root.key.create_time - skew  # wall time of the root's start: times are since then
    now_wall = time.time()
    first = _first_look(readings, now_wall - t0)
    tree = {r.key.pid for r in readings}
    live = [r.key.pid for r in readings if r.state != "zombie"]
    notes: list[str] = []
    if skipped:
        notes.append(
            f"the tree has more than {options.max_processes} processes: {skipped} more were "
            "not inspected (--max-processes raises the bound)"
        )

    session = session_of(live)
    streams: list[ProcessEvents] = []
    if session is not None:
        from mpdoctor.collect.events import read_events

        streams = tree_streams(read_events(session / "events"), tree)
    sizes = sizes_of(streams)

    snap = snapshot(
        live,
        t_s=now_wall - t0,
        pipes=True,
        outside=procfs.ancestors(root.key.pid),
        lonely_for=parents_of_ended(readings, streams),
    )
    hidden_outside = mark_outside_holders(snap, tree)
    snap.reason = "inspect"
    starts = [start for s in streams if (start := s.last(StartEvent)) is not None]
    snap.stack_signal = starts[0].stack_signal if starts else None
    notes += visibility_notes(snap, live, hidden_outside)
    look_s = time.monotonic() - t_a

    t_stacks = time.monotonic()
    means, stacks_note = "none", "stacks not asked for (--no-stacks)"
    if options.stacks:
        means, stacks_note = take_stacks(snap, session, streams, first.samples)
    stacks_s = time.monotonic() - t_stacks

    time.sleep(max(0.0, options.interval_s - (time.monotonic() - t_a)))
    t_b = time.monotonic()
    # zombies are read again too: one seen at both looks was a zombie for the whole interval
    reader = ProcfsReader()
    again = [reader.read(r.key.pid) for r in readings]
    later = {r.key: r for r in again if r is not None}
    steady(snap, snapshot([k.pid for k, r in later.items() if r.state != "zombie"], pipes=False))
    elapsed = max(t_b - t_a, 1e-6)
    last_root = later.get(root.key)
    if last_root is None or last_root.state == "zombie" or not identity.is_same(root.key):
        raise TargetGone(f"pid {pid} exited during the inspection")

    figures, cpu_moved = _second_look(first, later, elapsed, skew)
    changed = set(later) != {r.key for r in readings}
    quiet = not changed and cpu_moved <= MIN_CPU_SHARE * elapsed + CPU_SLACK_S
    quiet = quiet and sizes_of(streams) == sizes
    snap.quiet_s = round(elapsed, 2) if quiet else 0.0
    snap.ended = quiet

    evidence = build_evidence(
        BuildInputs(
            t0=t0,
            streams=streams,
            samples=first.samples,
            main_key=root.key,
            duration_s=time.time() - t0,
            hang=snap,
            clock_skew=skew,
            notes=notes,
        )
    )
    _live_states(evidence, first.samples)
    return Inspection(
        root=root.key,
        evidence=evidence,
        figures=figures,
        stacks_means=means,
        stacks_note=stacks_note,
        session=session,
        skipped=skipped,
        quiet=quiet,
        timings={
            "look_s": look_s + (time.monotonic() - t_b),
            "stacks_s": stacks_s,
            "interval_s": elapsed,
            "total_s": time.monotonic() - t_first,
        },
        notes=notes,
    )


def parents_of_ended(readings: list[Reading], streams: list[ProcessEvents]) -> set[int]:
    """The processes of the tree with a child that has ended, as far as can be seen: a zombie
    child, a child's exit recorded by its probe, a probed child no longer alive. Only these
    can poll a queue whose producer is gone (orphaned-wait's suspected case)."""
    live = {r.key.pid for r in readings if r.state != "zombie"}
    parents = {r.ppid for r in readings if r.state == "zombie"}
    for stream in streams:
        if stream.of(ChildExitEvent):
            parents.add(stream.pid)
        start = stream.last(StartEvent)
        if stream.pid not in live and start is not None and start.ppid:
            parents.add(start.ppid)
    return parents


def _first_look(readings: list[Reading], rel: float) -> _FirstLook:
    """A sample of every process of the tree as it is now (`rel`: seconds since the root's
    start), its command line and its RSS."""
    reader = ProcfsReader()
    samples: dict[ProcessKey, ProcessSample] = {}
    rss: dict[ProcessKey, int | None] = {}
    for reading in readings:
        sample = new_record(reading, reader.details(reading.key.pid, reading.comm), rel)
        apply_reading(sample, reading, rel)
        if reading.state != "zombie":
            rss[reading.key] = procfs.rss_bytes(reading.key.pid)
        samples[reading.key] = sample
    return _FirstLook(readings, samples, rss)


def _second_look(
    first: _FirstLook, later: dict[ProcessKey, Reading], elapsed: float, skew: float
) -> tuple[dict[ProcessKey, LiveFigures], float]:
    """The samples brought up to the end of the interval, each process's figures (CPU% over
    the interval), and the CPU seconds the tree used meanwhile."""
    figures: dict[ProcessKey, LiveFigures] = {}
    cpu_moved = 0.0
    for reading in first.readings:
        key = reading.key
        after = later.get(key)
        sample = first.samples[key]
        end_s = sample.first_seen_s + elapsed
        age = max(0.0, time.time() - (key.create_time - skew))
        if after is None:  # ended (or, a zombie, was reaped) during the interval
            sample.gone_s = end_s
        else:  # a zombie seen at both looks was one for the whole interval
            apply_reading(sample, after, end_s)
        if reading.state == "zombie":
            figures[key] = LiveFigures(None, None, None, age)
        elif after is None:
            figures[key] = LiveFigures(None, first.rss.get(key), reading.num_threads, age)
        else:
            delta = max(0.0, (after.cpu_s or 0.0) - (reading.cpu_s or 0.0))
            cpu_moved += delta
            cpu_percent = round(100.0 * delta / elapsed, 1)
            figures[key] = LiveFigures(cpu_percent, first.rss.get(key), after.num_threads, age)
    return figures, cpu_moved


def _live_states(evidence: Evidence, samples: dict[ProcessKey, ProcessSample]) -> None:
    """States as a live tree has them: a process known from its probe file only has exited,
    an unreaped one is still a zombie (the builder, made for ended runs, says "exited")."""
    for key, proc in evidence.processes.items():
        sample = samples.get(key)
        if sample is None:
            proc.state = "exited"
        elif sample.state == "zombie":
            proc.state = "zombie"


def environment_of(inspection: Inspection) -> Environment:
    """The report's environment: the root's interpreter and Python when known."""
    root = inspection.evidence.processes.get(inspection.root)
    return Environment.here(root.python if root else None, root.exe if root else None, None)
