"""Every thread's Python stack in every probed process, on demand, through faulthandler.

The probe registers faulthandler for the stack signal in each process (`all_threads=False`),
writing into `SESSION/stacks/<pid>-<ticks>` (its `start` event names the descriptor and the
signal). To take stacks the monitor sends the signal to one thread at a time (tgkill): the
thread that receives it runs the handler and dumps its own stack, which nothing else can change
meanwhile. The processes are dumped in parallel, their threads one after the other: a dump is
complete when its file has grown, ends a line and then stayed the same for SETTLE_S (faulthandler
writes it in pieces from the signal handler), or when the budget runs out.

Why one thread at a time: with `all_threads=True` the handler walks every thread's frames and
thread state without the GIL, and a thread that runs, starts or ends meanwhile makes it read
freed memory (SIGSEGV: CPython gh-116008; seen here in a Pool spinning after its result handler
died, and in 4 runs of 5 of a program that starts a short-lived thread every 10 ms).
A thread dumping its own stack reads only what it alone changes.

A thread is signalled only when all of these hold, checked just before the signal:
* its process registered (its `start` event) and is the same process (pid and start ticks);
* the probe saw the thread start (`start` and `thread` events: a thread it does not know has no
  Python stack to dump, or is not one of the program's);
* the process's descriptor still points at its stacks file (an exec closed it: O_CLOEXEC), the
  signal is still caught (SigCgt) and the probe has not seen the program install its own handler
  for it (`stacks-off`);
* the thread does not block the signal, and does not wait for signals (`signal.pause()` returns
  after any handler, ours included);
* the thread has used no CPU for IDLE_S: interrupted while it runs, it could be half-way through
  pushing a frame. Its CPU time (schedstat, nanoseconds) is read when the request starts and
  again just before the signal; a thread seen running is looked at again until RETRY_S (a loop
  that sleeps between its checks is caught between two of them), then left without a stack.
The other threads of the process may run meanwhile: they cannot change the dumped thread's
frames. The tgkill comes microseconds after the start-ticks check (a pid reused in between would
need the whole pid space to wrap around). Anything else is left alone: a default action for a
real-time signal is to terminate.

Requests from `run` and `inspect` on the same session never interleave: each holds an exclusive
lock on `SESSION/stacks/.lock` while it signals and reads.
"""

from __future__ import annotations

import fcntl
import functools
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mpdoctor.collect.events import ProcessEvents, StacksOffEvent, StartEvent, ThreadEvent
from mpdoctor.collect.procfs import PROC, _read, start_ticks
from mpdoctor.model import Frame

BUDGET_S = 0.3  # dumps that have not settled by then are taken as they are
LOCK_WAIT_S = 0.5  # another request (a run and an inspect at once) holds the session lock
# faulthandler writes a dump in pieces from the signal handler (tens of microseconds): a file
# that grew, ends a line and then stayed the same for SETTLE_S is complete. A last look at
# every file after all have settled catches a handler that was preempted half-way.
SETTLE_S = 0.0003
POLL_S = 0.0002
# A thread must have used no CPU for IDLE_S before it is signalled; the dump itself takes
# about 0.1 ms. A thread that ran is looked at again until RETRY_S.
IDLE_S = 0.002
RETRY_S = 0.15
RUNNING = "a thread is running: dumping a running thread's stack could crash the process"
UNKNOWN_THREADS = "no thread the probe saw start is alive"


@dataclass(frozen=True)
class StackTarget:
    """What the probe registered in one process (from its `start` event)."""

    pid: int
    ticks: int | None
    fd: int
    signal: int
    path: Path  # its stacks file
    threads: tuple[int, ...] = ()  # native ids of the Python threads the probe saw start


@dataclass
class ThreadStack:
    """One thread of a dump."""

    ident: int  # threading.get_ident(); 0 when the dump does not say (one thread's own dump)
    current: bool  # the thread that ran the signal handler (each one, dumped one at a time)
    frames: list[Frame] = field(default_factory=list)  # innermost first, as faulthandler prints
    truncated: bool = False
    tid: int | None = None  # native id: the thread that was signalled


@dataclass
class StackResult:
    """The stacks of the processes asked, and why the others have none."""

    stacks: dict[int, list[ThreadStack]] = field(default_factory=dict)  # pid -> threads
    skipped: dict[int, str] = field(default_factory=dict)  # pid -> why it has no stack at all
    # pid -> tid -> why that thread has no stack (its process has the others')
    threads_skipped: dict[int, dict[int, str]] = field(default_factory=dict)
    elapsed_s: float = 0.0


def take_stacks(
    targets: list[StackTarget], lock_dir: Path, budget_s: float = BUDGET_S
) -> StackResult:
    """Dump every eligible thread of every target (at most `budget_s`), parse the dumps."""
    t0 = time.monotonic()
    result = StackResult()
    lock = _session_lock(lock_dir)
    if not lock.acquire(t0 + LOCK_WAIT_S):
        result.skipped = dict.fromkeys((t.pid for t in targets), "another stack request is busy")
        return result
    try:
        _dump_threads(targets, result, t0 + min(RETRY_S, budget_s / 2), t0 + budget_s)
    finally:
        lock.release()
    for pid, why in list(result.threads_skipped.items()):
        if why and pid not in result.stacks:  # no thread at all: the process's reason (main's)
            result.skipped[pid] = why.get(pid) or why[min(why)]
        if not why or pid not in result.stacks:
            del result.threads_skipped[pid]
    result.elapsed_s = time.monotonic() - t0
    return result


@dataclass
class _Queue:
    """One process's threads still to dump, and when each one's CPU clock was read."""

    target: StackTarget
    tids: list[int]
    clocks: dict[int, tuple[bytes | None, float]]  # tid -> (CPU clock or None: running, read at)


def _dump_threads(
    targets: list[StackTarget], result: StackResult, retry_until: float, deadline: float
) -> None:
    """Rounds: each signals the next idle thread of every process at once, then waits for those
    dumps. A thread seen running goes to the back of its queue until `retry_until`."""
    late = f"no dump within {(deadline - time.monotonic()) * 1000:.0f} ms"
    queues = _queues(targets, result)
    while queues and time.monotonic() < deadline:
        due = min(q.clocks[q.tids[0]][1] for q in queues.values()) + IDLE_S
        time.sleep(max(0.0, due - time.monotonic()))
        sent = _signal_round(queues, result, retry_until)
        pending = {pid: (target, offset) for pid, (target, _tid, offset) in sent.items()}
        for pid, text in _await_dumps(pending, deadline).items():
            tid = sent[pid][1]
            threads = parse_dump(text)
            if not threads:
                result.threads_skipped.setdefault(pid, {})[tid] = late
                continue
            for thread in threads:
                thread.tid = tid
            result.stacks.setdefault(pid, []).extend(threads)
        queues = {pid: queue for pid, queue in queues.items() if queue.tids}
    for queue in queues.values():  # the budget ran out
        result.threads_skipped.setdefault(queue.target.pid, {}).update(
            dict.fromkeys(queue.tids, late)
        )


def _queues(targets: list[StackTarget], result: StackResult) -> dict[int, _Queue]:
    """pid -> the threads to dump, each one's CPU clock read now; refused processes go to
    `result.skipped`."""
    queues: dict[int, _Queue] = {}
    for target in targets:
        why = refusal(target)
        live = _live_threads(target.pid)
        tids = [tid for tid in target.threads if tid in live]
        if why is None and not tids:
            why = UNKNOWN_THREADS
        if why is None and thread_signaller() is None and len(live) > 1:
            why = "this system offers no way to signal one thread (tgkill)"
        if why is not None:
            result.skipped[target.pid] = why
            continue
        now = time.monotonic()
        clocks = {tid: (thread_clock(target.pid, tid), now) for tid in tids}
        queues[target.pid] = _Queue(target, tids, clocks)
    return queues


def _signal_round(
    queues: dict[int, _Queue], result: StackResult, retry_until: float
) -> dict[int, tuple[StackTarget, int, int]]:
    """Signal the first due thread of each queue; pid -> (target, tid, its file's size before).
    Threads refused leave their queue, with the reason in `result.threads_skipped`."""
    sent: dict[int, tuple[StackTarget, int, int]] = {}
    for pid, queue in queues.items():
        tid = queue.tids[0]
        clock, read_at = queue.clocks[tid]
        if time.monotonic() - read_at < IDLE_S:
            continue
        skipped = result.threads_skipped.setdefault(pid, {})
        why = refusal(queue.target)
        if why is not None:  # the process itself: none of its threads any more
            skipped.update(dict.fromkeys(queue.tids, why))
            queue.tids.clear()
            continue
        offset = _size(queue.target.path)
        why = _signal_thread(queue.target, tid, clock)
        if why is None:
            sent[pid] = (queue.target, queue.tids.pop(0), offset)
        elif why == RUNNING and time.monotonic() < retry_until:
            queue.tids.append(queue.tids.pop(0))
            queue.clocks[tid] = (thread_clock(pid, tid), time.monotonic())
        else:
            skipped[queue.tids.pop(0)] = why
    return sent


def _live_threads(pid: int) -> set[int]:
    try:
        return {int(t) for t in os.listdir(f"{PROC}/{pid}/task")}
    except (OSError, ValueError):
        return set()


def _signal_thread(target: StackTarget, tid: int, clock: bytes | None) -> str | None:
    """Send the stack signal to thread `tid` of `target`; why not, or None when sent. `clock`:
    its CPU clock read at least IDLE_S ago, which must not have moved (read again last)."""
    why = thread_refusal(target.pid, tid, target.signal)
    if why is not None:
        return why
    if clock is None or thread_clock(target.pid, tid) != clock:
        return RUNNING
    send = thread_signaller()
    try:
        if send is not None:
            send(target.pid, tid, target.signal)
        else:  # a single-threaded process: the process-directed signal reaches that thread
            os.kill(target.pid, target.signal)
    except OSError as exc:
        return f"could not signal it ({exc.strerror})"
    return None


def refusal(target: StackTarget) -> str | None:
    """Why no thread of `target` may be signalled now, or None when one may be."""
    if target.ticks is not None and start_ticks(target.pid) != target.ticks:
        return "gone (or its pid was reused)"
    try:
        if os.readlink(f"{PROC}/{target.pid}/fd/{target.fd}") != str(target.path):
            return "its stacks file is closed (exec, or the program closed the descriptor)"
    except OSError:
        return "its descriptors cannot be read"
    if not signal_caught(target.pid, target.signal):
        return f"signal {target.signal} is no longer caught"
    return None


def thread_refusal(pid: int, tid: int, signum: int) -> str | None:
    """Why thread `tid` must not get the signal (it blocks it, or waits for signals)."""
    status = _read(f"{PROC}/{pid}/task/{tid}/status", 8192)
    if not status:
        return "the thread ended"
    match = re.search(rb"^SigBlk:\s*([0-9a-fA-F]+)", status, re.MULTILINE)
    if match is not None and int(match.group(1), 16) >> (signum - 1) & 1:
        return f"the thread blocks signal {signum} (it may be waiting for signals)"
    from mpdoctor.collect.waits import SIGNAL_WAITS, read_thread

    wait = read_thread(pid, tid, full=False)
    if wait is not None and wait.syscall in SIGNAL_WAITS:
        return f"the thread waits for a signal ({wait.syscall}): the stack signal would end it"
    return None


def thread_clock(pid: int, tid: int) -> bytes | None:
    """The thread's CPU time: schedstat's nanoseconds where the kernel has it, else utime and
    stime (clock ticks, coarse: the state must then be asleep). None when it is runnable (R)
    or gone."""
    stat = _read(f"{PROC}/{pid}/task/{tid}/stat")
    if not stat:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    if fields[0] == b"R":
        return None
    cpu = _read(f"{PROC}/{pid}/task/{tid}/schedstat", 128)
    return cpu.split()[0] if cpu else fields[11] + b"+" + fields[12]


@functools.cache
def thread_signaller() -> Callable[[int, int, int], None] | None:
    """tgkill(tgid, tid, sig) through libc (glibc 2.30+, musl), else the raw system call on the
    architectures whose number is known; None when neither is available."""
    try:
        import ctypes
        import platform

        libc = ctypes.CDLL(None, use_errno=True)
        tgkill = getattr(libc, "tgkill", None)
        if tgkill is None:
            number = _TGKILL.get(platform.machine())
            if number is None:
                return None
            syscall = libc.syscall

            def tgkill(tgid: int, tid: int, sig: int) -> int:
                return syscall(number, tgid, tid, sig)
    except (OSError, AttributeError, ImportError):
        return None

    def send(tgid: int, tid: int, sig: int) -> None:
        if tgkill(tgid, tid, sig) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))

    return send


_TGKILL = {"x86_64": 234, "aarch64": 131, "riscv64": 131, "ppc64le": 250, "s390x": 241}


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
_OWN_STACK = "Stack (most recent call first):"  # one thread's dump of its own stack
_FRAME = re.compile(r'^\s+File "(?P<file>.*)", line (?P<line>\d+|\?+) in (?P<func>.*)$')


def parse_dump(text: str) -> list[ThreadStack]:
    """faulthandler's output: one thread's own stack ("Stack (most recent call first):"), or
    with `all_threads` a header per thread; then the frames, innermost first ("  ..." when it
    cut a deep stack)."""
    threads: list[ThreadStack] = []
    for line in text.splitlines():
        header = _THREAD.match(line)
        if header:
            threads.append(ThreadStack(int(header.group(2), 16), header.group(1) != "Thread"))
            continue
        if line.startswith(_OWN_STACK):
            threads.append(ThreadStack(0, True))
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
        threads = tuple(sorted({tid for tid, _name in thread_names(stream).values()}))
        targets.append(
            StackTarget(stream.pid, stream.ticks, start.stack_fd, start.stack_signal, path, threads)
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
