"""`mpdoctor inspect PID`: look at a live process tree that mpdoctor did not start.

One inspection:

1. checks the target (it exists, is not a zombie nor a kernel thread, its /proc is readable);
2. finds the tree below it, breadth first, keyed by (pid, create_time), at most
   `max_processes` processes (the rest is counted and named as skipped); mpdoctor's own
   process and its children are never part of it (`inspect $$` from a shell);
3. reads every process (state, CPU, threads, RSS, command line) and every thread's wait
   (`hang.snapshot`), marks the pipes a process outside the tree also holds (a pool worker's
   queue is written by its parent: a read on it is never orphaned), and takes stacks by the
   best means available: the probe's faulthandler when the tree runs under `mpdoctor run`
   (found through MPDOCTOR_SESSION in a process's environment; only processes that registered
   are signalled, by `collect/stacks.py`'s rules), else py-spy when installed and ptrace
   allows it, else none, with the reason;
4. reads the processes and the threads again at the end of the interval (0.1 s by default):
   CPU% is the difference; a thread counts as waiting only if it was in the same wait at both
   looks, so a proof never rests on a moment;
5. joins all of it into `Evidence` through `evidence_builder` (times: seconds since the root
   started), for the same rules and renderers as `run`.

Errors are `MpdoctorError`s with inspect's exit codes (see `cli/inspect.py`).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from mpdoctor.collect import identity, procfs
from mpdoctor.collect.events import ProcessEvents, StartEvent
from mpdoctor.collect.hang import add_stacks, snapshot
from mpdoctor.collect.progress import CPU_SLACK_S, MIN_CPU_SHARE
from mpdoctor.collect.sampler import ProcessSample, ProcfsReader, Reading
from mpdoctor.collect.session import SESSION_VAR
from mpdoctor.diagnose.evidence import Evidence, HangSnapshot, ProcessKey, ThreadState
from mpdoctor.errors import MpdoctorError

INTERVAL_S = 0.1
MAX_PROCESSES = 256
COUNT_BUDGET_S = 0.5  # counting what a huge tree skipped stops after this long
_PF_KTHREAD = 0x00200000

EXIT_FINDINGS = 1  # an error-level finding
EXIT_BAD_TARGET = 2  # not a number, no such process, zombie, kernel thread, /proc hidden
EXIT_GONE = 3  # the target exited (or its pid was reused) during the inspection


class TargetGone(MpdoctorError):
    exit_code = EXIT_GONE


class BadTarget(MpdoctorError):
    exit_code = EXIT_BAD_TARGET


@dataclass
class InspectOptions:
    interval_s: float = INTERVAL_S
    max_processes: int = MAX_PROCESSES
    stacks: bool = True


@dataclass(frozen=True)
class LiveFigures:
    """What a live process looks like now (the report's figures beyond the run's)."""

    cpu_percent: float | None  # over the interval, of one core
    rss_bytes: int | None
    num_threads: int | None
    age_s: float | None


@dataclass
class Inspection:
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


# -- the target ----------------------------------------------------------------------------


def check_target(pid: int) -> Reading:
    """The target's first reading, or the error that says why it cannot be inspected."""
    if not procfs.available():
        raise BadTarget("inspect needs Linux's /proc", hint="it is not mounted here")
    if pid <= 0:
        raise BadTarget(f"{pid} is not a process id (a positive number)")
    if pid == os.getpid():
        raise BadTarget(f"pid {pid} is mpdoctor itself")
    if not os.path.exists(f"{procfs.PROC}/{pid}"):
        raise BadTarget(f"no process with pid {pid}")
    reading = ProcfsReader().read(pid)
    if reading is None:
        if os.path.exists(f"{procfs.PROC}/{pid}"):
            raise BadTarget(
                f"access denied to /proc/{pid}",
                hint="/proc is mounted with hidepid: run as root or as the process's user",
            )
        raise BadTarget(f"no process with pid {pid}")
    if reading.state in ("zombie", "exited"):
        parent = reading.ppid
        raise BadTarget(
            f"pid {pid} is a zombie: it has exited and waits for its parent (pid {parent}) "
            "to reap it; inspect the parent instead",
        )
    if is_kernel_thread(pid):
        raise BadTarget(f"pid {pid} is a kernel thread ({reading.comm}), not a program")
    return reading


def is_kernel_thread(pid: int) -> bool:
    raw = procfs._read(f"{procfs.PROC}/{pid}/stat")
    if not raw:
        return False
    fields = raw.rpartition(b")")[2].split()
    try:
        return bool(int(fields[6]) & _PF_KTHREAD)  # field 9: flags
    except (IndexError, ValueError):
        return False


# -- the tree ------------------------------------------------------------------------------


def discover(root: Reading, limit: int) -> tuple[list[Reading], int]:
    """The tree below `root`, breadth first (parents before children), at most `limit`
    processes, and how many more there were (counted for at most COUNT_BUDGET_S)."""
    reader = ProcfsReader()
    own = {os.getpid()}
    found = [root]
    queue = [root.key.pid]
    seen = {root.key.pid}
    overflow: list[int] = []
    while queue:
        pid = queue.pop(0)
        for child in sorted(procfs.children(pid) or []):
            if child in seen or child in own:
                continue
            seen.add(child)
            if len(found) >= limit:
                overflow.append(child)
                continue
            reading = reader.read(child)
            if reading is None or reading.ppid != pid:
                continue  # gone, or reparented meanwhile
            found.append(reading)
            queue.append(child)
    return found, _count_below(overflow, seen)


def _count_below(pids: list[int], seen: set[int]) -> int:
    count, deadline = 0, time.monotonic() + COUNT_BUDGET_S
    while pids and time.monotonic() < deadline:
        pid = pids.pop()
        count += 1
        for child in procfs.children(pid) or []:
            if child not in seen:
                seen.add(child)
                pids.append(child)
    return count + len(pids)


def _status_field(pid: int, name: bytes) -> int | None:
    raw = procfs._read(f"{procfs.PROC}/{pid}/status", 8192)
    if not raw:
        return None
    start = raw.find(b"\n" + name + b":")
    if start < 0:
        return None
    parts = raw[start + len(name) + 2 :].split(b"\n", 1)[0].split()
    try:
        return int(parts[0]) * 1024
    except (IndexError, ValueError):
        return None


# -- the session of `mpdoctor run` ---------------------------------------------------------


def session_of(pids: list[int]) -> Path | None:
    """The session directory of the `mpdoctor run` that started these processes, from the
    first one whose environment names one; only a private directory (mode 0700) owned by the
    process's user, holding events/ and stacks/, is believed."""
    needle = SESSION_VAR.encode() + b"="
    for pid in pids:
        try:
            with open(f"{procfs.PROC}/{pid}/environ", "rb") as f:
                environ = f.read()
            owner = os.stat(f"{procfs.PROC}/{pid}").st_uid
        except OSError:
            continue
        for item in environ.split(b"\0"):
            if item.startswith(needle) and len(item) > len(needle):
                path = Path(os.fsdecode(item[len(needle) :]))
                if _trusted_session(path, owner):
                    return path
    return None


def _trusted_session(path: Path, owner: int) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return (
        st.st_uid == owner
        and st.st_mode & 0o077 == 0
        and (path / "events").is_dir()
        and (path / "stacks").is_dir()
    )


def _tree_streams(streams: list[ProcessEvents], tree: set[int]) -> list[ProcessEvents]:
    """The probe files of the tree's processes and of their descendants that already ended
    (a producer that died): a file whose process is in the tree, or whose parent's is."""
    wanted = set(tree)
    ordered = sorted(streams, key=lambda s: s.events[0].t if s.events else 0.0)
    kept = []
    for stream in ordered:
        start = stream.first(StartEvent)
        if stream.pid in wanted or (start is not None and start.ppid in wanted):
            wanted.add(stream.pid)
            kept.append(stream)
    return kept


# -- waits at both ends of the interval ----------------------------------------------------


def _wait_key(t: ThreadState) -> tuple:
    return (t.syscall, t.fd, t.waits_for_pid, t.futex, t.futex_addr, t.readable)


def steady(first: HangSnapshot, last: HangSnapshot) -> None:
    """Keep a thread's wait only if the last look found it in the same wait: a thread that
    changed or ended counts as not blocked (never part of a proof)."""
    for pid, threads in first.threads.items():
        later = {t.tid: t for t in last.threads.get(pid, [])}
        for thread in threads:
            again = later.get(thread.tid)
            if again is None or _wait_key(again) != _wait_key(thread) or not again.blocked:
                thread.blocked = False


def mark_outside_holders(snap: HangSnapshot, tree: set[int]) -> list[int]:
    """A pipe the tree waits on that a process outside the tree also holds (a pool worker's
    task queue, written by its parent) can be released from there: mark it external. Returns
    the pids outside the tree whose descriptors could not be read (their pipes are unknown)."""
    waited = set()
    for pid, threads in snap.threads.items():
        for thread in threads:
            if thread.blocked and thread.fd is not None:
                for pipe in snap.pipes:
                    if (pid, thread.fd) in pipe.readers or (pid, thread.fd) in pipe.writers:
                        waited.add(pipe.inode)
    if not waited:
        return []
    links = {f"pipe:[{inode}]": inode for inode in waited}
    outside: set[int] = set()
    hidden = []
    me = os.getpid()
    for pid in procfs.all_pids():
        if pid in tree or pid == me:
            continue
        base = f"{procfs.PROC}/{pid}/fd"
        try:
            names = os.listdir(base)
        except PermissionError:
            hidden.append(pid)
            continue
        except OSError:
            continue
        for name in names:
            try:
                inode = links.get(os.readlink(f"{base}/{name}"))
            except OSError:
                continue
            if inode is not None:
                outside.add(inode)
    for pipe in snap.pipes:
        if pipe.inode in outside:
            pipe.external = True
    if hidden:  # unknown holders: no pipe the tree waits on can be proven
        for pipe in snap.pipes:
            if pipe.inode in waited:
                pipe.external = True
    return hidden


# -- the inspection ------------------------------------------------------------------------


def inspect_tree(pid: int, options: InspectOptions | None = None) -> Inspection:
    from mpdoctor.collect.evidence_builder import BuildInputs, build_evidence

    options = options or InspectOptions()
    reader = ProcfsReader()
    t_first = time.monotonic()
    root = check_target(pid)
    readings, skipped = discover(root, max(1, options.max_processes))
    t_a = time.monotonic()
    skew = identity.clock_skew()
    t0 = root.key.create_time - skew  # wall time of the root's start: times are since then
    now_wall = time.time()
    samples: dict[ProcessKey, ProcessSample] = {}
    rss: dict[ProcessKey, int | None] = {}
    for reading in readings:
        details = reader.details(reading.key.pid, reading.comm)
        rel = now_wall - t0
        sample = ProcessSample(
            key=reading.key,
            ppid=reading.ppid,
            first_seen_s=rel,
            last_seen_s=rel,
            state=reading.state,
            cpu_s=reading.cpu_s,
            num_threads=reading.num_threads,
            peak_rss_bytes=reading.peak_rss_bytes,
            cmdline=details.cmdline,
            exe=details.exe,
            name=details.name,
        )
        if reading.state == "zombie":
            sample.zombie_since_s = sample.zombie_until_s = rel
            sample.zombie_status = reading.zombie_status
        else:
            rss[reading.key] = _status_field(reading.key.pid, b"VmRSS")
        samples[reading.key] = sample
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

        streams = _tree_streams(read_events(session / "events"), tree)
    sizes = _sizes_of(streams)

    snap = snapshot(live, t_s=now_wall - t0, pipes=True)
    hidden_outside = mark_outside_holders(snap, tree)
    snap.reason = "inspect"
    snap.stack_signal = next(
        (s.last(StartEvent).stack_signal for s in streams if s.last(StartEvent)), None
    )
    notes += _visibility_notes(snap, live, hidden_outside)
    look_s = time.monotonic() - t_a

    t_stacks = time.monotonic()
    means, stacks_note = "none", "stacks not asked for (--no-stacks)"
    if options.stacks:
        means, stacks_note = _take_stacks(snap, session, streams, samples)
    stacks_s = time.monotonic() - t_stacks

    time.sleep(max(0.0, options.interval_s - (time.monotonic() - t_a)))
    t_b = time.monotonic()
    later = {r.key: r for r in (reader.read(p) for p in live) if r is not None}
    last = snapshot([key.pid for key in later], pipes=False)
    steady(snap, last)
    elapsed = max(t_b - t_a, 1e-6)
    last_root = later.get(root.key)
    if last_root is None or last_root.state == "zombie" or not identity.is_same(root.key):
        raise TargetGone(f"pid {pid} exited during the inspection")

    figures: dict[ProcessKey, LiveFigures] = {}
    cpu_moved = 0.0
    for reading in readings:
        key = reading.key
        after = later.get(key)
        sample = samples[key]
        age = max(0.0, time.time() - (key.create_time - skew))
        if reading.state == "zombie":
            figures[key] = LiveFigures(None, None, None, age)
            continue
        if after is None:  # ended during the interval
            sample.gone_s = t_b - t_a + sample.first_seen_s
            figures[key] = LiveFigures(None, rss.get(key), reading.num_threads, age)
            continue
        delta = (after.cpu_s or 0.0) - (reading.cpu_s or 0.0)
        cpu_moved += max(0.0, delta)
        sample.state = after.state
        sample.cpu_s = after.cpu_s
        sample.num_threads = after.num_threads or sample.num_threads
        if after.state == "zombie":
            sample.zombie_since_s = sample.zombie_until_s = sample.first_seen_s + elapsed
            sample.zombie_status = after.zombie_status
        figures[key] = LiveFigures(
            round(100.0 * max(0.0, delta) / elapsed, 1), rss.get(key), after.num_threads, age
        )
    changed = set(later) != {r.key for r in readings if r.state != "zombie"}
    quiet = not changed and cpu_moved <= MIN_CPU_SHARE * elapsed + CPU_SLACK_S
    quiet = quiet and _sizes_of(streams) == sizes
    snap.quiet_s = round(elapsed, 2) if quiet else 0.0
    snap.ended = quiet

    evidence = build_evidence(
        BuildInputs(
            t0=t0,
            streams=streams,
            samples=samples,
            main_key=root.key,
            duration_s=time.time() - t0,
            hang=snap,
            clock_skew=skew,
            notes=notes,
        )
    )
    for key, proc in evidence.processes.items():
        sample = samples.get(key)
        if sample is None:
            proc.state = "exited"  # known from its probe file only
        elif sample.state == "zombie":
            proc.state = "zombie"  # still there, unreaped (the builder says "exited")
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


def _sizes_of(streams: list[ProcessEvents]) -> dict[Path, int]:
    """The size of each probe file: one that grew means its process wrote an event."""
    sizes = {}
    for stream in streams:
        try:
            sizes[stream.path] = os.stat(stream.path).st_size
        except OSError:
            sizes[stream.path] = -1
    return sizes


def _visibility_notes(snap: HangSnapshot, live: list[int], hidden_outside: list[int]) -> list[str]:
    notes = []
    hidden = sorted(
        pid for pid, threads in snap.threads.items() if any(not t.readable for t in threads)
    )
    if hidden:
        from mpdoctor.collect.pyspy import FIX

        notes.append(
            f"the system calls of {len(hidden)} process(es) are hidden by ptrace rules "
            f"(pids {', '.join(map(str, hidden[:8]))}{', ...' if len(hidden) > 8 else ''}): "
            f"what they wait on is unknown and no hang through them can be proven; {FIX}"
        )
    if snap.unreadable_fds:
        notes.append(
            f"the descriptors of pids {', '.join(map(str, sorted(snap.unreadable_fds)[:8]))} "
            "cannot be read (another user's): their pipes are unknown"
        )
    if hidden_outside:
        notes.append(
            f"{len(hidden_outside)} process(es) outside the tree hide their descriptors: a "
            "pipe the tree waits on might be held there, so no pipe wait is proven"
        )
    gone = [pid for pid in live if pid not in snap.threads]
    if gone:
        notes.append(f"{len(gone)} process(es) ended while they were being read")
    return notes


def _take_stacks(
    snap: HangSnapshot,
    session: Path | None,
    streams: list[ProcessEvents],
    samples: dict[ProcessKey, ProcessSample],
) -> tuple[str, str | None]:
    """Stacks into `snap`: the probe's for the processes that registered it, py-spy's for the
    other Python processes. Returns the means used and, when some got none, why."""
    from mpdoctor.collect import pyspy

    used = []
    if session is not None and streams:
        probed = [s.pid for s in streams if s.pid in snap.threads]
        add_stacks(snap, session, only=probed)
        if snap.stacks:
            used.append("probe")
    wanted = [
        pid
        for pid in snap.threads
        if pid not in snap.stacks and _looks_python(samples, pid) and pid != os.getpid()
    ]
    reasons: list[str] = []
    if wanted:
        exe = pyspy.executable()
        if exe is None:
            why = (
                "py-spy is not installed (pip install 'mpdoctor[stacks]')"
                if session is None
                else "not probed, and py-spy is not installed"
            )
            for pid in wanted:
                snap.stacks_skipped.setdefault(pid, why)
            reasons.append(why)
        else:
            result = pyspy.dump(wanted, exe)
            for pid, threads in result.stacks.items():
                snap.stacks[pid] = threads
                snap.stacks_skipped.pop(pid, None)
            for pid, why in result.skipped.items():
                snap.stacks_skipped[pid] = why
            if result.stacks:
                used.append("py-spy")
            if result.skipped:
                reasons.append(sorted(set(result.skipped.values()))[0])
    _add_sources(snap)
    for pid in snap.threads:
        if pid not in snap.stacks and pid not in snap.stacks_skipped:
            snap.stacks_skipped[pid] = "not a Python process"
    means = "+".join(used) or "none"
    note = None
    if reasons:
        note = ("no stacks: " if not used else "some processes have no stack: ") + reasons[0]
    return means, note


def _looks_python(samples: dict[ProcessKey, ProcessSample], pid: int) -> bool:
    from mpdoctor.diagnose.roles import _PYTHON_EXE

    for sample in samples.values():
        if sample.key.pid == pid:
            names = [sample.exe, sample.cmdline[0] if sample.cmdline else None, sample.name]
            return any(n and _PYTHON_EXE.match(os.path.basename(n)) for n in names)
    return False


def _add_sources(snap: HangSnapshot) -> None:
    """The program's lines around each stack's innermost frame of its own (the rules read a
    polling loop's condition from them)."""
    import linecache

    from mpdoctor.diagnose.tracebacks import user_frame

    for threads in snap.stacks.values():
        for thread in threads:
            frame = user_frame(list(reversed(thread.frames)))
            if frame is None:
                continue
            for number in range(max(1, frame.line - 3), frame.line + 1):
                snap.sources[(frame.file, number)] = linecache.getline(frame.file, number).strip()


def environment_of(inspection: Inspection):
    """The report's environment: the root's interpreter and Python when known."""
    from mpdoctor.model import Environment

    evidence = inspection.evidence
    root = evidence.processes.get(inspection.root)
    python = root.python if root else None
    return Environment(
        python=python,
        interpreter=root.exe if root else None,
        platform=sys.platform,
        start_method=None,
        cpu_count=os.cpu_count(),
    )
