"""The sampler: finds the tree, keys it by (pid, create_time), notices zombies and reuse."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mpdoctor.collect import identity, procfs
from mpdoctor.collect.sampler import ProcfsReader, PsutilReader, Reading, Sampler
from mpdoctor.diagnose.evidence import ProcessKey

pytestmark = pytest.mark.skipif(not procfs.available(), reason="Linux /proc only")

SLEEP = [sys.executable, "-c", "import time; time.sleep(30)"]


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def kill_later():
    procs: list[subprocess.Popen] = []
    yield procs.append
    for p in procs:
        p.kill()
        p.wait()


def test_finds_children_and_grandchildren_with_their_details(kill_later):
    sampler = Sampler(os.getpid(), time.time())
    shell = subprocess.Popen(
        ["sh", "-c", f"{' '.join(SLEEP[:2])} '{SLEEP[2]}' & wait"], start_new_session=True
    )
    kill_later(shell)
    wait_for(lambda: procfs.children(shell.pid))
    (grandchild,) = procfs.children(shell.pid)
    wait_for(lambda: procfs.cmdline(grandchild) == SLEEP)  # exec'd
    try:
        sampler.sample()
        records = sampler.processes()
        by_pid = {k.pid: r for k, r in records.items()}
        assert {shell.pid, grandchild} <= set(by_pid)
        g = by_pid[grandchild]
        assert g.ppid == shell.pid and g.cmdline == SLEEP and g.state in ("running", "sleeping")
        assert g.num_threads == 1 and g.peak_rss_bytes > 1_000_000 and g.exe
        assert g.key == identity.key_of(grandchild)
    finally:
        os.kill(grandchild, signal.SIGKILL)
    wait_for(lambda: procfs.state_letter(grandchild) in (None, "Z"))
    shell.wait(timeout=10)
    sampler.sample()
    assert sampler.alive() == []
    gone = {k.pid: r for k, r in sampler.processes().items()}
    assert gone[grandchild].gone_s is not None or gone[grandchild].state == "zombie"


def test_a_zombie_s_exit_status_is_read_before_anyone_reaps_it():
    sampler = Sampler(os.getpid(), time.time())
    pid = os.fork()
    if pid == 0:
        os._exit(3)
    try:
        wait_for(lambda: procfs.state_letter(pid) == "Z")
        sampler.sample()
        (record,) = [r for k, r in sampler.processes().items() if k.pid == pid]
        assert record.state == "zombie" and record.zombie_status == 3 << 8
        assert record.zombie_since_s is not None and sampler.alive() == []
    finally:
        os.waitpid(pid, 0)


class FakeReader:
    """A reader over a scripted process table: {pid: Reading}."""

    def __init__(self) -> None:
        self.table: dict[int, Reading] = {}
        self.cmdlines: dict[int, list[str]] = {}

    def pids(self) -> list[int]:
        return list(self.table)

    def read(self, pid: int, prev_activity: int | None = None) -> Reading | None:
        return self.table.get(pid)

    def details(self, pid: int, comm: str | None = None):
        from mpdoctor.collect.sampler import Details

        return Details(self.cmdlines.get(pid, [f"prog-{pid}"]), None, comm or f"p{pid}")

    def exe(self, pid: int) -> str | None:
        return None


def reading(pid: int, ctime: float, ppid: int, state: str = "sleeping") -> Reading:
    return Reading(ProcessKey(pid, ctime), ppid, state, 0.0, 1, 1000, None, f"p{pid}")


def test_a_reused_pid_is_a_new_process_and_the_old_one_is_gone():
    root = 1
    reader = FakeReader()
    sampler = Sampler(root, 0.0, reader=reader)
    reader.table = {500: reading(500, 10.0, root), 501: reading(501, 10.5, 500)}
    sampler.sample()
    # 500 exits; its pid is reused by a new child of the root before the next tick.
    reader.table = {500: reading(500, 20.0, root), 501: reading(501, 10.5, root)}
    sampler.sample()
    records = sampler.processes()
    old, new = records[ProcessKey(500, 10.0)], records[ProcessKey(500, 20.0)]
    assert old.gone_s is not None and new.gone_s is None
    assert sorted(sampler.alive(), key=lambda k: k.create_time) == [
        ProcessKey(501, 10.5),
        ProcessKey(500, 20.0),
    ]
    assert records[ProcessKey(501, 10.5)].ppid == 500  # first parent kept
    assert records[ProcessKey(501, 10.5)].ppid_now == root  # reparented


def test_foreign_processes_are_never_tracked():
    reader = FakeReader()
    sampler = Sampler(1, 0.0, reader=reader)
    reader.table = {700: reading(700, 1.0, 2), 701: reading(701, 1.5, 700)}
    sampler.sample()
    assert sampler.processes() == {}


def test_a_process_announced_by_the_probe_is_tracked_even_off_the_tree(tmp_path, kill_later):
    root = subprocess.Popen(SLEEP)
    kill_later(root)
    outsider = subprocess.Popen(SLEEP)
    kill_later(outsider)
    other = subprocess.Popen(SLEEP)
    kill_later(other)
    wait_for(lambda: procfs.start_ticks(outsider.pid) is not None)
    events = tmp_path / "events"
    events.mkdir()
    # Root is a childless process: neither sibling is in its tree...
    sampler = Sampler(root.pid, time.time(), events_dir=events, interval=30)
    sampler.start()
    try:
        # ...but the probe registers one of them: it is sampled promptly (inotify wakes it).
        (events / f"{outsider.pid}-{procfs.start_ticks(outsider.pid)}.jsonl").write_text("")
        wait_for(lambda: any(k.pid == outsider.pid for k in sampler.processes()), timeout=5)
        assert not any(k.pid == other.pid for k in sampler.processes())
    finally:
        sampler.stop()


def test_psutil_reader_agrees_with_procfs_reader(kill_later):
    proc = subprocess.Popen(SLEEP)
    kill_later(proc)
    wait_for(lambda: procfs.cmdline(proc.pid) == SLEEP)
    # settled into its sleep, so both readers see the same state
    wait_for(lambda: procfs.read_stat(proc.pid).state == "S")
    a, b = ProcfsReader().read(proc.pid), PsutilReader().read(proc.pid)
    assert a is not None and b is not None
    assert (a.key, a.ppid, a.state, a.num_threads) == (b.key, b.ppid, b.state, b.num_threads)
    assert ProcfsReader().details(proc.pid) == PsutilReader().details(proc.pid)


def test_a_tick_over_idle_processes_reads_one_small_file_each(kill_later, monkeypatch):
    # The monitor's CPU is measured in bench/ ("monitor"); this pins down why it is small.
    for _ in range(8):
        kill_later(subprocess.Popen(["sleep", "30"]))
    sampler = Sampler(os.getpid(), time.time())
    sampler.sample()
    assert len(sampler.alive()) >= 8
    others = [k.pid for k in sampler.alive() if k.pid != os.getpid()]
    wait_for(
        lambda: all((st := procfs.read_stat(pid)) is None or st.state == "S" for pid in others)
    )
    sampler.sample()  # every sleeper has settled since this reading
    status_reads = []
    real = procfs.peak_rss_bytes
    monkeypatch.setattr(procfs, "peak_rss_bytes", lambda pid: status_reads.append(pid) or real(pid))
    time.sleep(0.05)
    sampler.sample()
    sleepers = {k.pid for k in sampler.alive()} - {os.getpid()}
    assert not sleepers & set(status_reads)  # idle: /proc/PID/stat only, never status


def announcing_sampler(tmp_path, first: Reading) -> tuple[Sampler, FakeReader, Path]:
    """A sampler over a fake table holding `first` (sampled once), watching tmp_path/events."""
    events = tmp_path / "events"
    events.mkdir()
    reader = FakeReader()
    sampler = Sampler(1, 0.0, reader=reader, events_dir=events)
    reader.table = {first.key.pid: first}
    sampler.sample()
    return sampler, reader, events


def test_a_probe_announcement_reads_only_the_announced_process(tmp_path):
    sampler, reader, events = announcing_sampler(tmp_path, reading(500, 10.0, 1))
    scans = []
    reader.pids = lambda: scans.append(1) or list(reader.table)  # type: ignore[method-assign]
    announced = identity.key_from_ticks(600, 2000)
    reader.table[600] = reading(600, announced.create_time, 77)  # off the tree, announced
    reader.table[601] = reading(601, 20.0, 1)  # a new child nobody announced
    (events / "600-2000.jsonl").write_text("")
    sampler.notice_created(["600-2000.jsonl"])  # as inotify reports it
    sampler.sample_announced()
    assert {k.pid for k in sampler.alive()} == {500, 600}
    assert scans == []  # no /proc scan between ticks
    sampler.sample()  # the next tick finds the rest
    assert {k.pid for k in sampler.alive()} == {500, 600, 601}


def test_an_announcement_on_a_reused_pid_replaces_the_old_process(tmp_path):
    sampler, reader, events = announcing_sampler(tmp_path, reading(600, 10.0, 1))
    # 600 ends; an orphan started elsewhere gets its pid and the probe announces it
    new = identity.key_from_ticks(600, 3000)
    reader.table = {600: reading(600, new.create_time, 77)}
    (events / "600-3000.jsonl").write_text("")
    sampler.notice_created(["600-3000.jsonl"])
    sampler.sample_announced()
    assert sampler.alive() == [new]
    assert sampler.processes()[ProcessKey(600, 10.0)].gone_s is not None


def test_a_parent_and_child_born_in_the_same_tick_are_both_found():
    reader = FakeReader()
    sampler = Sampler(1, 0.0, reader=reader)
    # The child has the lower pid (pid wrap) and the same create_time as its parent.
    reader.table = {900: reading(900, 5.0, 950), 950: reading(950, 5.0, 1)}
    sampler.sample()
    assert {k.pid for k in sampler.alive()} == {900, 950}


def test_peak_rss_follows_a_process_that_wakes_up_and_allocates(kill_later, tmp_path):
    go = tmp_path / "go"
    code = (
        "import os, time\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.01)\n"
        "data = bytearray(64 * 1024 * 1024)\n"
        "open(" + repr(str(go)) + " + '-done', 'w').close()\n"
        "time.sleep(30)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    kill_later(proc)
    sampler = Sampler(os.getpid(), time.time())
    wait_for(lambda: procfs.cmdline(proc.pid) and procfs.cmdline(proc.pid)[-1] == code)
    sampler.sample()
    sampler.sample()  # idle in between: the second tick skips /proc/PID/status
    (key,) = [k for k in sampler.alive() if k.pid == proc.pid]
    before = sampler.processes()[key].peak_rss_bytes
    go.touch()
    wait_for(lambda: (tmp_path / "go-done").exists())
    sampler.sample()
    after = sampler.processes()[key].peak_rss_bytes
    assert after - before >= 60 * 1024 * 1024


MB = 1 << 20
IMAGE_A = (b"94000000000000", b"140700000000000")  # where a program is mapped (stat 26-28...)
IMAGE_B = (b"95000000000000", b"140711111111111")  # after an exec: elsewhere


def program(pid: int, comm: str, image, peak, activity: int, state="sleeping") -> Reading:
    """A reading of process `pid` (created at 5.0, a child of the root) running `comm`."""
    key = ProcessKey(pid, 5.0)
    return Reading(key, 1, state, 0.0, 1, peak, None, comm, activity, image)


def test_a_peak_read_before_an_exec_is_not_the_new_program_s():
    """A fork child read while a copy of its 200 MB parent, then exec'd into another python
    (same name, same executable: only the image tells): the copy's peak is dropped."""
    reader = FakeReader()
    sampler = Sampler(1, 0.0, reader=reader)
    reader.table = {600: program(600, "python3", IMAGE_A, 200 * MB, activity=10)}
    reader.cmdlines[600] = ["python3", "app.py"]
    sampler.sample()
    reader.table[600] = program(600, "python3", IMAGE_B, 2 * MB, activity=20)
    reader.cmdlines[600] = ["python3", "-c", "from multiprocessing.spawn import spawn_main"]
    sampler.sample()
    (record,) = sampler.processes().values()
    assert record.peak_rss_bytes == 2 * MB
    assert record.cmdline == reader.cmdlines[600]  # what it runs now, re-read


def test_the_same_program_keeps_its_peak_whatever_its_name():
    """No exec (the image stays; setproctitle renamed it): the largest reading is the peak."""
    reader = FakeReader()
    sampler = Sampler(1, 0.0, reader=reader)
    reader.table = {600: program(600, "python3", IMAGE_A, 200 * MB, activity=10)}
    sampler.sample()
    reader.table[600] = program(600, "renamed", IMAGE_A, 150 * MB, activity=20)
    sampler.sample()
    (record,) = sampler.processes().values()
    assert record.peak_rss_bytes == 200 * MB


def test_a_zombie_that_exec_d_unseen_has_no_known_peak_or_command_line():
    reader = FakeReader()
    sampler = Sampler(1, 0.0, reader=reader)
    reader.table = {600: program(600, "python3", IMAGE_A, 200 * MB, activity=10)}
    sampler.sample()
    reader.table[600] = program(600, "sleep", None, None, activity=11, state="zombie")
    sampler.sample()
    (record,) = sampler.processes().values()
    assert (record.peak_rss_bytes, record.cmdline, record.name) == (None, [], "sleep")


def test_a_zombie_that_never_exec_d_keeps_its_peak_and_command_line():
    """A fork worker that ended: its peak is its own address space's, as last read."""
    reader = FakeReader()
    sampler = Sampler(1, 0.0, reader=reader)
    reader.table = {600: program(600, "python3", IMAGE_A, 200 * MB, activity=10)}
    sampler.sample()
    reader.table[600] = program(600, "python3", None, None, activity=11, state="zombie")
    sampler.sample()
    (record,) = sampler.processes().values()
    assert (record.peak_rss_bytes, record.cmdline) == (200 * MB, ["prog-600"])


def test_an_unchanging_tree_is_read_less_often_and_a_change_resets_it(kill_later):
    sampler = Sampler(os.getpid(), time.time())  # this test's children are the tree
    sleeper = subprocess.Popen(SLEEP)
    kill_later(sleeper)
    wait_for(lambda: procfs.cmdline(sleeper.pid) == SLEEP)
    time.sleep(0.3)  # its start-up is over: no more CPU ticks or page faults
    sampler.start()
    try:
        time.sleep(3.0)
        # a tick every 0.25 s would be 12; backing off (0.25, 0.5, 1, 1 ...) it is about 5
        assert sampler.samples_taken <= 7
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        kill_later(busy)
        wait_for(lambda: busy.pid in {k.pid for k in sampler.alive()}, timeout=2.5)
        before = sampler.samples_taken
        time.sleep(1.5)
        assert sampler.samples_taken - before >= 4  # a tree that changes: every 0.25 s again
    finally:
        sampler.stop()


class _KillingReader(ProcfsReader):
    """The real reader, but `victim` is SIGTERMed (and, with `reap`, reaped) just before the
    read that would see it: as if the sampler's thread had been preempted between taking the
    tick's time and reading /proc, while the program's Pool.terminate() ran."""

    def __init__(self, victim: subprocess.Popen, reap: bool, after_reads: int = 0):
        super().__init__()
        self.victim, self.reap, self.after_reads = victim, reap, after_reads
        self.ended_at: float | None = None

    def read(self, pid, prev_activity=None):
        if pid == self.victim.pid and self.ended_at is None:
            if self.after_reads > 0:
                self.after_reads -= 1
            else:
                time.sleep(0.005)  # the tick's clock, if read before, is now 5 ms old
                self.ended_at = time.time()
                self.victim.terminate()
                if self.reap:
                    self.victim.wait()
                else:
                    wait_for(lambda: procfs.state_letter(self.victim.pid) == "Z")
        return super().read(pid, prev_activity)


@pytest.mark.parametrize("reap", [False, True], ids=["zombie", "gone"])
def test_an_end_is_never_dated_before_the_signal_that_caused_it(kill_later, reap):
    """Dated before it, the kill that ended the process looks sent after its death: nobody
    sent it, and a Pool's own terminate() read as workers dying while it was open."""
    victim = subprocess.Popen(SLEEP)
    kill_later(victim)
    wait_for(lambda: identity.key_of(victim.pid) is not None)
    t0 = time.time()
    # gone: seen alive at a first tick, then reaped before the second one reads it
    reader = _KillingReader(victim, reap, after_reads=1 if reap else 0)
    sampler = Sampler(os.getpid(), t0, reader=reader)
    sampler.sample()
    if reap:
        sampler.sample()
    [record] = [r for k, r in sampler.processes().items() if k.pid == victim.pid]
    ended = record.gone_s if reap else record.zombie_since_s
    assert reader.ended_at is not None and ended is not None
    assert ended >= reader.ended_at - t0, (ended, reader.ended_at - t0)
