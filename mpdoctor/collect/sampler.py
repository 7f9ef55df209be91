"""The monitor thread: samples every process of the tree, keyed by (pid, create_time).

The tree is every descendant of `root` (the monitor: the target, its descendants, and orphans
reparented to the monitor as subreaper), plus processes the probe announces in events/.
Each tick:

* finds new processes: pids that appeared in /proc since the last tick whose parent is in the
  tree (older first, so a new child of a new parent is found in the same tick); every other new
  pid is remembered as foreign and never read again (that keeps a tick cheap on a busy machine);
* re-reads each live process of the tree: state, cpu, threads, peak RSS (VmHWM), and exit status
  while it is a zombie (stat field 52). A pid whose start time changed is a new process.
  A process that neither ran nor faulted a page since the last tick costs one small read.
* an exec keeps the identity but not the address space: VmHWM is the peak of one address space,
  so a reading taken before the exec (a fork child's copy of its parent, or under vfork the
  parent's own memory) is dropped when a reading shows the new program (`execed`); a process
  seen only as a zombie after an exec has no known peak.

The thread sleeps in select() on an inotify watch of events/, so a process the probe registers
is sampled within milliseconds even if it lives less than a tick.

Linux reads /proc directly (two small files per process; psutil reads the same files with more
overhead); elsewhere psutil's `oneshot()` does the same job with less detail (no zombie status,
peak RSS as the largest RSS seen).
"""

from __future__ import annotations

import os
import select
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from mpdoctor.collect import dirwatch, identity, procfs
from mpdoctor.collect.reaper import Reaped
from mpdoctor.diagnose.evidence import ProcessKey

_STATES = {
    "R": "running",
    "S": "sleeping",
    "D": "disk-sleep",
    "T": "stopped",
    "t": "stopped",
    "Z": "zombie",
    "X": "exited",
    "I": "sleeping",
    "P": "sleeping",
    "W": "sleeping",
}
IDLE_INTERVAL_S = 1.0  # the full tick's interval once the tree stays the same


@dataclass(frozen=True)
class Reading:
    """One reading of one process."""

    key: ProcessKey
    ppid: int
    state: str  # running | sleeping | disk-sleep | stopped | zombie | exited | unknown
    cpu_s: float | None
    num_threads: int | None
    peak_rss_bytes: int | None
    zombie_status: int | None  # raw wait status of a zombie (Linux)
    comm: str | None
    activity: int | None = None  # grows whenever the process runs or touches memory
    image: tuple[bytes, ...] | None = None  # where its program is mapped (procfs): new at exec


@dataclass(frozen=True)
class Details:
    """A process's command line, executable and name."""

    cmdline: list[str]
    exe: str | None
    name: str | None


class Reader(Protocol):
    def pids(self) -> list[int]: ...
    def read(self, pid: int, prev_activity: int | None = None) -> Reading | None:
        """One reading; `prev_activity` (the last reading's) lets it skip what cannot have
        changed: a process with no page fault since then cannot have grown its peak RSS."""
        ...

    def details(self, pid: int, comm: str | None = None) -> Details:
        """Command line, executable and name (`comm`: the name a reading just gave)."""
        ...

    def exe(self, pid: int) -> str | None: ...


class ProcfsReader:
    """Linux: /proc/PID/stat and /proc/PID/status, nothing else on the hot path."""

    def __init__(self) -> None:
        self._ticks = procfs.clock_ticks()

    def pids(self) -> list[int]:
        return procfs.all_pids()

    def read(self, pid: int, prev_activity: int | None = None) -> Reading | None:
        stat = procfs.read_stat(pid)
        if stat is None:
            return None
        zombie = stat.state in ("Z", "X")
        activity = stat.utime_ticks + stat.stime_ticks + stat.faults
        # Idle since the last tick (no CPU tick, no page fault): VmHWM cannot have grown, so
        # /proc/PID/status, most of a tick's cost, is skipped.
        skip_memory = zombie or activity == prev_activity
        return Reading(
            key=identity.key_from_ticks(pid, stat.start_ticks),
            ppid=stat.ppid,
            state=_STATES.get(stat.state, "unknown"),
            cpu_s=(stat.utime_ticks + stat.stime_ticks) / self._ticks,
            num_threads=stat.num_threads,
            peak_rss_bytes=None if skip_memory else procfs.peak_rss_bytes(pid),
            zombie_status=stat.exit_code if zombie else None,
            comm=stat.comm,
            activity=activity,
            image=None if zombie else stat.image,
        )

    def details(self, pid: int, comm: str | None = None) -> Details:
        if comm is None:
            stat = procfs.read_stat(pid)
            comm = stat.comm if stat else None
        return Details(procfs.cmdline(pid) or [], procfs.exe(pid), comm)

    def exe(self, pid: int) -> str | None:
        return procfs.exe(pid)


class PsutilReader:
    """Portable: psutil with oneshot() batching the reads behind each attribute."""

    def __init__(self) -> None:
        import psutil

        self._psutil = psutil

    def pids(self) -> list[int]:
        return self._psutil.pids()

    def read(self, pid: int, prev_activity: int | None = None) -> Reading | None:
        ps = self._psutil
        try:
            proc = ps.Process(pid)
            with proc.oneshot():
                status = proc.status()
                key = ProcessKey(pid, identity.round_time(proc.create_time()))
                ppid = proc.ppid()
                if status == ps.STATUS_ZOMBIE:
                    return Reading(key, ppid, "zombie", None, None, None, None, proc.name())
                times = proc.cpu_times()
                return Reading(
                    key=key,
                    ppid=ppid,
                    state=_psutil_state(status),
                    cpu_s=times.user + times.system,
                    num_threads=proc.num_threads(),
                    peak_rss_bytes=proc.memory_info().rss,
                    zombie_status=None,
                    comm=proc.name(),
                )
        except (ps.Error, OSError):
            return None

    def details(self, pid: int, comm: str | None = None) -> Details:
        ps = self._psutil
        try:
            proc = ps.Process(pid)
            with proc.oneshot():
                info = proc.as_dict(["cmdline", "exe", "name"], ad_value=None)
        except (ps.Error, OSError):
            return Details([], None, None)
        return Details(info["cmdline"] or [], info["exe"] or None, info["name"])

    def exe(self, pid: int) -> str | None:
        try:
            return self._psutil.Process(pid).exe() or None
        except (self._psutil.Error, OSError):
            return None


def _psutil_state(status: str) -> str:
    if status in ("running", "sleeping", "disk-sleep", "stopped", "zombie"):
        return status
    if status in ("tracing-stop",):
        return "stopped"
    if status in ("idle", "waking", "parked", "waiting", "locked"):
        return "sleeping"
    if status == "dead":
        return "exited"
    return "unknown"


def default_reader() -> Reader:
    return ProcfsReader() if procfs.available() else PsutilReader()


@dataclass
class ProcessSample:
    """What the sampler learned about one process over its life (times: s since t0)."""

    key: ProcessKey
    ppid: int | None  # the parent when first seen (an orphan's ppid_now is the subreaper's)
    first_seen_s: float
    last_seen_s: float
    state: str = "unknown"
    cpu_s: float | None = None
    num_threads: int | None = None
    peak_rss_bytes: int | None = None
    cmdline: list[str] = field(default_factory=list)
    exe: str | None = None
    name: str | None = None  # the kernel's comm / psutil name
    zombie_since_s: float | None = None
    zombie_until_s: float | None = None
    zombie_status: int | None = None  # raw wait status read from the zombie (field 52)
    gone_s: float | None = None  # first sample that found it gone
    reaped_status: int | None = None  # raw wait status, when the monitor reaped it
    reaped_s: float | None = None
    ppid_now: int | None = None
    activity: int | None = None  # the last reading's (see Reading.activity)
    image: tuple[bytes, ...] | None = None  # the last known (see Reading.image)


def new_record(reading: Reading, details: Details, t: float) -> ProcessSample:
    """The record of a process first seen at `t` (then `apply_reading`)."""
    return ProcessSample(
        key=reading.key,
        ppid=reading.ppid,
        first_seen_s=t,
        last_seen_s=t,
        cmdline=details.cmdline,
        exe=details.exe,
        name=details.name,
    )


def execed(record: ProcessSample, reading: Reading) -> bool:
    """Whether `reading` shows another program than `record` holds: the process exec'd since
    (same pid and start time, a new address space). Its image moved; where an image is not
    known (a zombie, no read access, psutil), its name changed."""
    if record.image is not None and reading.image is not None:
        return reading.image != record.image
    return reading.comm is not None and record.name is not None and reading.comm != record.name


def apply_reading(record: ProcessSample, reading: Reading, t: float) -> bool:
    """Bring `record` up to `reading`, taken at `t`; whether the process ran since the last
    reading (a CPU tick or a page fault: its program may have changed by exec)."""
    ran = reading.activity is None or reading.activity != record.activity
    if execed(record, reading):
        # What was read before the exec was another address space (a fork's copy of its
        # parent, or the parent's own under vfork): none of it is this program's. The reading
        # is newer than the image it shows (stat is read before status), so its peak is.
        record.peak_rss_bytes = None
    if reading.image is not None:
        record.image = reading.image
    record.activity = reading.activity
    record.last_seen_s = t
    record.ppid_now = reading.ppid
    record.state = reading.state
    if reading.cpu_s is not None:
        record.cpu_s = reading.cpu_s
    if reading.num_threads is not None:
        record.num_threads = reading.num_threads
    if reading.peak_rss_bytes is not None:
        record.peak_rss_bytes = max(record.peak_rss_bytes or 0, reading.peak_rss_bytes)
    if reading.state == "zombie":
        if record.zombie_since_s is None:
            record.zombie_since_s = t
        record.zombie_until_s = t
        if reading.zombie_status is not None:
            record.zombie_status = reading.zombie_status
        return False  # a zombie runs nothing
    return ran


class Sampler:
    """Samples the tree below `root` on its own thread; every method is thread-safe."""

    def __init__(
        self,
        root: int,
        t0: float,
        *,
        interval: float = 0.25,
        events_dir: Path | str | None = None,
        reader: Reader | None = None,
        min_gap: float = 0.02,
    ):
        self.root = root
        self.t0 = t0
        self.interval = interval
        self.min_gap = min_gap  # at most one extra sample per min_gap when woken by the probe
        self.events_dir = Path(events_dir) if events_dir is not None else None
        self.reader = reader or default_reader()
        self.samples_taken = 0
        self._records: dict[ProcessKey, ProcessSample] = {}
        self._live: dict[int, ProcessKey] = {}  # pid -> key of tree processes present now
        self._seen_pids: set[int] = set()
        self._seen_event_files: set[str] = set()
        self._created: set[str] = set()  # names inotify reported since the last look
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_r = self._wake_w = -1  # stop() writes here to end the thread's select()
        self._watch: dirwatch.DirWatch | None = None

    # -- thread ----------------------------------------------------------------------------
    def start(self) -> None:
        if self.events_dir is not None:
            self._watch = dirwatch.open_watch(str(self.events_dir))
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="mpdoctor-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._wake_w >= 0:
            os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1

    def _run(self) -> None:
        last = last_full = 0.0
        interval, seen = self.interval, None
        while not self._stop.is_set():
            gap = time.monotonic() - last
            if gap < self.min_gap:  # woken by a burst of new processes: coalesce
                self._stop.wait(self.min_gap - gap)
            last = time.monotonic()
            if last - last_full >= interval:
                self.sample()
                last_full = last
                # A tree where nothing changed (no process came or went, none used a CPU
                # tick or faulted a page) is read less often, up to once a second: most of an
                # idle monitor's CPU is this tick. Any change, or an announcement, resets it.
                now = self._fingerprint()
                interval = min(2 * interval, IDLE_INTERVAL_S) if now == seen else self.interval
                seen = now
            else:  # woken by the probe between ticks: read only what it announced
                self.sample_announced()
                interval = self.interval
            self._wait(max(0.0, interval - (time.monotonic() - last_full)))

    def _fingerprint(self) -> tuple:
        """What a full tick saw: each live process and its activity (CPU ticks + faults)."""
        with self._lock:
            return tuple(
                (key, self._records[key].activity, self._records[key].state)
                for key in self._live.values()
            )

    def _wait(self, timeout: float) -> None:
        fds = [self._wake_r] + ([self._watch.fileno()] if self._watch else [])
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except (OSError, ValueError):
            self._stop.wait(timeout)
            return
        if self._watch is not None and self._watch.fileno() in ready:
            self.notice_created(self._watch.drain())

    # -- sampling --------------------------------------------------------------------------
    def now_s(self) -> float:
        return time.time() - self.t0

    def sample(self) -> None:
        """One full tick: discover new processes, then re-read every live one."""
        with self._lock:
            self._refresh_live()
            self._discover()
            self.samples_taken += 1

    def notice_created(self, names: list[str]) -> None:
        """Files inotify reported in events/: `sample_announced` reads their processes."""
        with self._lock:
            self._created.update(names)

    def sample_announced(self) -> None:
        """Read only the processes the probe announced since the last look (no /proc scan):
        a spawned child costs the monitor a few small reads, not a tick over the whole tree."""
        with self._lock:
            announced = self._announced_keys(listed=False)
            readings = []
            for key in announced:
                if self._live.get(key.pid) == key:
                    continue
                reading = self.reader.read(key.pid)
                if reading is not None and reading.key == key:  # else gone, or pid reused
                    readings.append(reading)
            t = self.now_s()  # after the reads: see _refresh_live
            for reading in sorted(readings, key=lambda r: (r.key.create_time, r.key.pid)):
                old = self._live.get(reading.key.pid)
                if old is not None:  # an older process on this pid ended between ticks
                    self._records[old].gone_s = t
                self._add(reading, t)

    def sample_pid(self, pid: int) -> None:
        """Read one process now (before the monitor reaps it: its zombie's last numbers)."""
        with self._lock:
            reading = self.reader.read(pid)
            t = self.now_s()  # after the read: see _refresh_live
            if reading is None:
                return
            if reading.key in self._records:
                self._update(self._records[reading.key], reading, t)
            elif reading.ppid == self.root or reading.ppid in self._live:
                self._add(reading, t)

    def _refresh_live(self) -> None:
        for pid, key in list(self._live.items()):
            record = self._records[key]
            reading = self.reader.read(pid, record.activity)
            # The time of an observation is taken after it: an end it shows (a zombie, a pid
            # gone) happened by then. A clock read before it may precede the kill that ended
            # the process (the sampler thread preempted in between), and the kill would then
            # look sent after the death (no sender: worker-died for a Pool's own terminate()).
            t = self.now_s()
            if reading is None or reading.key != key:
                record.gone_s = t
                del self._live[pid]
                if reading is not None and self._belongs(reading):
                    self._add(reading, t)  # the pid was reused inside the tree
                continue
            self._update(record, reading, t)

    def _discover(self) -> None:
        current = set(self.reader.pids())
        new = current - self._seen_pids
        self._seen_pids = current
        announced = self._announced_keys()
        new.update(k.pid for k in announced)
        pending = [r for pid in new if pid not in self._live and (r := self.reader.read(pid))]
        t = self.now_s()  # after the reads: see _refresh_live
        # Parents are older than their children: oldest first finds most of a new subtree in
        # one pass; a parent and child started in the same clock tick may need another pass.
        pending.sort(key=lambda r: (r.key.create_time, r.key.pid))
        added = True
        while pending and added:
            added = False
            rest = []
            for reading in pending:
                if self._belongs(reading) or reading.key in announced:
                    self._add(reading, t)
                    added = True
                else:
                    rest.append(reading)
            pending = rest

    def _belongs(self, reading: Reading) -> bool:
        return reading.key.pid != self.root and (
            reading.ppid == self.root or reading.ppid in self._live
        )

    def _announced_keys(self, listed: bool = True) -> set[ProcessKey]:
        """Processes the probe registered since the last look (new files in events/): from a
        listing of the directory, or (`listed=False`, between ticks) from the names inotify
        reported, which costs nothing per file already seen. A full tick lists the directory,
        so a name inotify dropped (queue overflow) is found there.

        They are ours by the session, even when their parent was never seen (an orphan
        reparented elsewhere, or a child of a short-lived process).
        """
        if self.events_dir is None:
            return set()
        created, self._created = self._created, set()
        if listed:
            try:
                created = set(os.listdir(self.events_dir))
            except OSError:
                return set()
        names = created - self._seen_event_files
        self._seen_event_files |= names
        from mpdoctor.collect.events import parse_file_name  # on the sampler's thread

        keys = set()
        for name in names:
            ident = parse_file_name(name)
            if ident and ident[1] is not None:
                keys.add(identity.key_from_ticks(*ident))
        return keys

    def _add(self, reading: Reading, t: float) -> None:
        fresh = reading.key not in self._records
        if not fresh:
            record = self._records[reading.key]
        else:
            record = new_record(reading, self.reader.details(reading.key.pid, reading.comm), t)
            self._records[reading.key] = record
        self._live[reading.key.pid] = reading.key
        self._update(record, reading, t, details_read=fresh)

    def _update(
        self, record: ProcessSample, reading: Reading, t: float, details_read: bool = False
    ) -> None:
        new_program = execed(record, reading)
        ran = apply_reading(record, reading, t)
        if new_program and reading.state == "zombie":
            # exec'd and ended between two looks: its command line is unknown, not the old one
            record.cmdline, record.exe, record.name = [], None, reading.comm
            return
        if not ran or details_read:
            return  # an exec faults pages in: idle since the last tick, same program
        # exec keeps the pid and start time but changes the program (the pyenv shim execs
        # the real python): re-read what it runs when its executable changed.
        exe = self.reader.exe(reading.key.pid)
        if new_program or exe != record.exe or reading.comm != record.name:
            if not new_program and None not in (exe, record.exe) and exe != record.exe:
                # An exec the reading did not show (its image hidden, the same name): the
                # reading may predate it, so the peak is read again, after the new exe.
                record.peak_rss_bytes = self._peak_now(record.key)
            details = self.reader.details(reading.key.pid)
            if details.cmdline or details.exe:
                record.cmdline, record.exe, record.name = (
                    details.cmdline,
                    details.exe,
                    details.name,
                )

    def _peak_now(self, key: ProcessKey) -> int | None:
        again = self.reader.read(key.pid)
        return again.peak_rss_bytes if again is not None and again.key == key else None

    # -- results ---------------------------------------------------------------------------
    def record_reap(self, reaped: Reaped) -> None:
        """The monitor reaped this process: its exact wait status."""
        with self._lock:
            t_s = reaped.t - self.t0
            key = reaped.key or self._live.get(reaped.pid)
            if key is None:
                return
            record = self._records.get(key)
            if record is None:  # never sampled alive: born and orphaned between two ticks
                record = ProcessSample(key=key, ppid=self.root, first_seen_s=t_s, last_seen_s=t_s)
                self._records[key] = record
            record.reaped_status = reaped.status
            record.reaped_s = t_s
            if record.gone_s is None:
                record.gone_s = t_s
            if self._live.get(reaped.pid) == key:
                del self._live[reaped.pid]

    def alive(self) -> list[ProcessKey]:
        """Tree processes present at the last sample that are not zombies."""
        with self._lock:
            return [k for k in self._live.values() if self._records[k].state != "zombie"]

    def activity(self) -> tuple[list[int], float]:
        """Pids of the live tree processes (no zombies) and their total CPU seconds, without
        copying any record: the monitor asks on every turn of its loop."""
        with self._lock:
            records = [self._records[k] for k in self._live.values()]
            live = [r for r in records if r.state != "zombie"]
            return [r.key.pid for r in live], sum(r.cpu_s or 0.0 for r in live)

    def refresh(self) -> list[ProcessKey]:
        """Sample now, then `alive()`."""
        self.sample()
        return self.alive()

    def processes(self) -> dict[ProcessKey, ProcessSample]:
        """A copy of every record (safe to read while the thread runs)."""
        with self._lock:
            return {k: replace(v, cmdline=list(v.cmdline)) for k, v in self._records.items()}
