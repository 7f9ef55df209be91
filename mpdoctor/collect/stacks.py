"""Every thread's Python stack in every probed process, on demand, through faulthandler.

The probe registers faulthandler for the stack signal in each process, writing into
`SESSION/stacks/<pid>-<ticks>` (its `start` event names the descriptor and the signal). To take
stacks the monitor signals every eligible process at once, then reads what each appended: a dump
is complete when its file has grown and then stayed the same for SETTLE_S (faulthandler writes
it in one go from the signal handler), or when the budget runs out.

A process is signalled only when all of these hold, checked just before the signal:
* it registered (its `start` event) and it is the same process (pid and start ticks);
* its descriptor still points at its stacks file (an exec closed it: O_CLOEXEC, and the program
  cannot have reused the number for something else);
* the signal is still caught (SigCgt), and the probe has not seen the program install its own
  handler for it (`stacks-off`);
* some thread does not block it, and no thread waits for a signal (`signal.pause()` returns
  after any handler, ours included);
* no thread ran for IDLE_S: faulthandler reads the other threads' frames without the GIL,
  and a thread changing them meanwhile can crash the process (SIGSEGV, seen on 3.11 and 3.13
  with a Pool spinning after its result handler died). One look at the threads' states is not
  enough: a spinning thread is often caught between two system calls, asleep. So every thread's
  CPU time (schedstat, in nanoseconds) is read twice IDLE_S apart, the second time just before
  the signal, and must not have moved. A process seen running is looked at again until
  RETRY_S (a loop that sleeps between its checks is caught between two of them), then left
  without stacks. A stalled tree sleeps.
The signal goes through a pidfd opened before these checks: a pid reused meanwhile is never hit.
Anything else is left alone: a default action for a real-time signal is to terminate.

Requests from `run` and `inspect` on the same session never interleave: each holds an exclusive
lock on `SESSION/stacks/.lock` while it signals and reads.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from mpdoctor.collect.events import ProcessEvents, StacksOffEvent, StartEvent, ThreadEvent
from mpdoctor.collect.procfs import PROC, _read, start_ticks
from mpdoctor.model import Frame

BUDGET_S = 0.3  # a dump that has not settled by then is taken as it is
LOCK_WAIT_S = 0.5  # another request (a run and an inspect at once) holds the session lock
# faulthandler writes a dump in one go from the signal handler (tens of microseconds): a file
# that grew, ends a line and then stayed the same for SETTLE_S is complete. A last look at
# every file after all have settled catches a handler that was preempted half-way.
SETTLE_S = 0.0003
POLL_S = 0.0002
# Every thread of a process must have used no CPU for IDLE_S before it is signalled; the dump
# itself takes about 0.1 ms. A process that ran is looked at again until RETRY_S.
IDLE_S = 0.002
RETRY_S = 0.15
RUNNING = "a thread is running: dumping a running thread's stack could crash the process"


@dataclass(frozen=True)
class StackTarget:
    """What the probe registered in one process (from its `start` event)."""

    pid: int
    ticks: int | None
    fd: int
    signal: int
    path: Path  # its stacks file


@dataclass
class ThreadStack:
    """One thread of a faulthandler dump."""

    ident: int
    current: bool  # the thread that ran the signal handler
    frames: list[Frame] = field(default_factory=list)  # innermost first, as faulthandler prints
    truncated: bool = False


@dataclass
class StackResult:
    """The stacks of the processes asked, and why the others have none."""

    stacks: dict[int, list[ThreadStack]] = field(default_factory=dict)  # pid -> threads
    skipped: dict[int, str] = field(default_factory=dict)  # pid -> why it was not signalled
    elapsed_s: float = 0.0


def take_stacks(
    targets: list[StackTarget], lock_dir: Path, budget_s: float = BUDGET_S
) -> StackResult:
    """Signal every eligible target, wait for their dumps (at most `budget_s`), parse them."""
    t0 = time.monotonic()
    result = StackResult()
    lock = _session_lock(lock_dir)
    if not lock.acquire(t0 + LOCK_WAIT_S):
        result.skipped = dict.fromkeys((t.pid for t in targets), "another stack request is busy")
        return result
    try:
        pending = _signal_idle(targets, result.skipped, t0 + min(RETRY_S, budget_s / 2))
        texts = _await_dumps(pending, t0 + budget_s)
    finally:
        lock.release()
    for pid, text in texts.items():
        threads = parse_dump(text)
        if threads:
            result.stacks[pid] = threads
        else:
            result.skipped[pid] = f"no dump within {budget_s * 1000:.0f} ms"
    result.elapsed_s = time.monotonic() - t0
    return result


def _signal_idle(
    targets: list[StackTarget], skipped: dict[int, str], retry_until: float
) -> dict[int, tuple[StackTarget, int]]:
    """Signal each target once all its threads were seen idle for IDLE_S; those refused go to
    `skipped`. Returns pid -> (target, size of its stacks file before the signal)."""
    pending: dict[int, tuple[StackTarget, int]] = {}
    # pid -> (target, its file's size, its threads' CPU clocks, when they were read)
    watched: dict[int, tuple[StackTarget, int, ThreadClocks | None, float]] = {}
    for target in targets:  # the other checks come once, just before the signal
        clocks = thread_clocks(target.pid)
        watched[target.pid] = (target, _size(target.path), clocks, time.monotonic())
    while watched:
        first_due = min(read_at for *_rest, read_at in watched.values()) + IDLE_S
        time.sleep(max(0.0, first_due - time.monotonic()))
        for pid, (target, offset, before, read_at) in list(watched.items()):
            if time.monotonic() - read_at < IDLE_S:
                continue
            del watched[pid]
            why = _signal(target, before)
            if why == RUNNING and time.monotonic() < retry_until:
                watched[pid] = (target, offset, thread_clocks(pid), time.monotonic())
            elif why is not None:
                skipped[pid] = why
            else:
                pending[pid] = (target, offset)
    return pending


def _signal(target: StackTarget, clocks: ThreadClocks | None) -> str | None:
    """Send the stack signal through a pidfd opened before the checks, so a pid reused in
    between is never signalled; why not, or None when sent. `clocks`: the threads' CPU
    clocks read at least IDLE_S ago, which must not have moved (read again last of all)."""
    try:
        pidfd = os.pidfd_open(target.pid)
    except (AttributeError, OSError):
        pidfd = -1  # before Linux 5.3: the checks and the kill are microseconds apart
    try:
        why = refusal(target)
        if why is not None:
            return why
        if clocks is None or thread_clocks(target.pid) != clocks:
            return RUNNING
        if pidfd >= 0:
            signal.pidfd_send_signal(pidfd, target.signal)
        else:
            os.kill(target.pid, target.signal)
    except OSError as exc:
        return f"could not signal it ({exc.strerror})"
    finally:
        if pidfd >= 0:
            os.close(pidfd)
    return None


def refusal(target: StackTarget) -> str | None:
    """Why `target` must not be signalled now, or None when it is safe to."""
    if target.ticks is not None and start_ticks(target.pid) != target.ticks:
        return "gone (or its pid was reused)"
    try:
        if os.readlink(f"{PROC}/{target.pid}/fd/{target.fd}") != str(target.path):
            return "its stacks file is closed (exec, or the program closed the descriptor)"
    except OSError:
        return "its descriptors cannot be read"
    if not signal_caught(target.pid, target.signal):
        return f"signal {target.signal} is no longer caught"
    if _blocked_everywhere(target.pid, target.signal):
        return f"every thread blocks signal {target.signal} (it may be waiting for signals)"
    waiting = _waiting_for_signals(target.pid)
    if waiting:
        return f"a thread waits for a signal ({waiting}): the stack signal would end that wait"
    return None


# tid -> (state, CPU time): equal twice means no thread ran in between
ThreadClocks = dict[bytes, tuple[bytes, bytes]]


def thread_clocks(pid: int) -> ThreadClocks | None:
    """Each thread's state and CPU time: schedstat's nanoseconds on the CPU where the kernel
    has it, else utime and stime (clock ticks, coarse: the state must then be asleep). None
    when a thread is runnable (R) or the process cannot be read."""
    try:
        tids = os.listdir(f"{PROC}/{pid}/task")
    except OSError:
        return None
    clocks: ThreadClocks = {}
    for tid in tids:
        stat = _read(f"{PROC}/{pid}/task/{tid}/stat")
        if not stat:
            continue  # the thread ended: the next reading differs
        fields = stat[stat.rfind(b")") + 2 :].split()
        state = fields[0]
        if state == b"R":
            return None
        cpu = _read(f"{PROC}/{pid}/task/{tid}/schedstat", 128)
        clocks[tid.encode()] = (state, cpu.split()[0] if cpu else fields[11] + b"+" + fields[12])
    return clocks or None


def _blocked_everywhere(pid: int, signum: int) -> bool:
    """Every thread blocks the signal: it would stay pending, and a sigwait() would get it."""
    try:
        tids = os.listdir(f"{PROC}/{pid}/task")
    except OSError:
        return False
    for tid in tids:
        status = _read(f"{PROC}/{pid}/task/{tid}/status", 8192) or b""
        match = re.search(rb"^SigBlk:\s*([0-9a-fA-F]+)", status, re.MULTILINE)
        if match is None or not int(match.group(1), 16) >> (signum - 1) & 1:
            return False
    return True


def _waiting_for_signals(pid: int) -> str | None:
    """signal.pause() and its kind return after any handler ran, ours included."""
    from mpdoctor.collect.waits import SIGNAL_WAITS, read_threads

    for wait in read_threads(pid, full=False):
        if wait.syscall in SIGNAL_WAITS:
            return wait.syscall
    return None


def signal_caught(pid: int, signum: int) -> bool:
    status = _read(f"{PROC}/{pid}/status", 8192) or b""
    match = re.search(rb"^SigCgt:\s*([0-9a-fA-F]+)", status, re.MULTILINE)
    return bool(match) and bool(int(match.group(1), 16) >> (signum - 1) & 1)


def _await_dumps(pending: dict[int, tuple[StackTarget, int]], deadline: float) -> dict[int, str]:
    """Wait until every dump is complete: its file grew, ends a line (faulthandler writes a
    frame in pieces) and stayed the same for SETTLE_S; then one last look at all of them."""
    sizes = {pid: offset for pid, (_target, offset) in pending.items()}
    changed = dict.fromkeys(pending, 0.0)  # when each file last grew (0: not yet)
    done: set[int] = set()
    while True:
        now = time.monotonic()
        for pid, (target, _offset) in pending.items():
            if pid in done:
                continue
            size = _size(target.path)
            if size != sizes[pid]:
                sizes[pid], changed[pid] = size, now
            elif changed[pid] and now - changed[pid] >= SETTLE_S and _ends_line(target.path, size):
                done.add(pid)
        if len(done) == len(pending):  # the last look: a handler preempted half-way shows here
            grown = {pid for pid, (t, _o) in pending.items() if _size(t.path) != sizes[pid]}
            if not grown:
                break
            done -= grown
        if now >= deadline:
            break
        time.sleep(POLL_S)
    return {pid: _read_from(target.path, offset) for pid, (target, offset) in pending.items()}


def _ends_line(path: Path, size: int) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return True
    try:
        return os.pread(fd, 1, size - 1) == b"\n"
    except OSError:
        return True
    finally:
        os.close(fd)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _read_from(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


class _session_lock:
    """An exclusive flock on `<dir>/.lock` (released when the descriptor closes), waited for
    until a deadline only: a stuck `inspect` must never freeze the monitor."""

    def __init__(self, directory: Path):
        self.path = directory / ".lock"
        self.fd = -1

    def acquire(self, deadline: float) -> bool:
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return False
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self.release()
                    return False
                time.sleep(0.005)

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


_THREAD = re.compile(r"^(Current thread|Thread) (0x[0-9a-fA-F]+)")
_FRAME = re.compile(r'^\s+File "(?P<file>.*)", line (?P<line>\d+|\?+) in (?P<func>.*)$')


def parse_dump(text: str) -> list[ThreadStack]:
    """faulthandler's `all_threads` output: a header per thread, then its frames, innermost
    first ("  ..." when it cut a deep stack)."""
    threads: list[ThreadStack] = []
    for line in text.splitlines():
        header = _THREAD.match(line)
        if header:
            threads.append(ThreadStack(int(header.group(2), 16), header.group(1) != "Thread"))
            continue
        if not threads:
            continue
        frame = _FRAME.match(line)
        if frame:
            number = frame.group("line")
            threads[-1].frames.append(
                Frame(
                    frame.group("file"), int(number) if number.isdigit() else 0, frame.group("func")
                )
            )
        elif line.strip() == "...":
            threads[-1].truncated = True
    return threads


def targets_from(
    streams: list[ProcessEvents], stacks_dir: Path
) -> tuple[list[StackTarget], dict[int, str]]:
    """The processes whose probe armed the stack signal (per their latest `start`: an exec'd
    Python registers again), and those that must not be signalled, with the reason."""
    targets: list[StackTarget] = []
    refused: dict[int, str] = {}
    for stream in streams:
        start = stream.last(StartEvent)
        if start is None:
            continue
        if start.stack_fd is None or start.stack_signal is None:
            refused[stream.pid] = "stacks are off in this process"
            continue
        off = stream.last(StacksOffEvent)
        if off is not None and off.t >= start.t:
            refused[stream.pid] = f"the program handles signal {start.stack_signal} itself"
            continue
        path = stacks_dir / stream.path.name.removesuffix(".jsonl")
        targets.append(
            StackTarget(stream.pid, stream.ticks, start.stack_fd, start.stack_signal, path)
        )
    return targets, refused


def thread_names(stream: ProcessEvents) -> dict[int, tuple[int, str | None]]:
    """ident -> (native id, name) of the threads the probe saw in one process."""
    names: dict[int, tuple[int, str | None]] = {}
    for event in stream.events:
        if isinstance(event, StartEvent) and event.ident is not None and event.tid is not None:
            name = "MainThread" if event.tid == stream.pid else None
            names.setdefault(event.ident, (event.tid, name))
        elif isinstance(event, ThreadEvent):
            names[event.ident] = (event.tid, event.name)
    return names
