"""/proc readers for the hang work: what each thread waits on, who holds each pipe end, how full
a pipe is. Pure decoding first, then real blocked processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from mpdoctor.collect.pipes import End, bytes_queued, ends_of, holders
from mpdoctor.collect.waits import ThreadWait, decode, parse_syscall, read_threads, syscall_table

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc"),
]

X86 = syscall_table("x86_64")
ARM = syscall_table("aarch64")


def _wait(name: str, *args: int, state: str = "S") -> ThreadWait:
    return decode(ThreadWait(tid=1, state=state, wchan=None, syscall=name, args=args))


def test_parse_running_outside_and_blocked() -> None:
    assert parse_syscall("running", X86) == ("running", ())
    assert parse_syscall("-1 0x7ffd 0x7f9c", X86) == (None, ())
    name, args = parse_syscall("61 0x3039 0x7ffc 0x0 0x0 0x0 0x0 0x7ffc 0x7f9c", X86)
    assert name == "wait4" and args[0] == 0x3039
    assert parse_syscall("260 0x1 0x0 0x0 0x0 0x0 0x0 0x1 0x2", ARM)[0] == "wait4"
    assert parse_syscall("999 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0", X86)[0] == "nr=999"


@pytest.mark.parametrize(
    ("wait", "expected"),
    [
        (_wait("wait4", 4242, 0, 0, 0), {"waits_for_pid": 4242, "timed": False}),
        (_wait("wait4", 2**64 - 1, 0, 1, 0), {"waits_for_pid": -1, "timed": True}),  # WNOHANG
        (_wait("read", 7, 0, 4), {"fd": 7}),
        (_wait("futex", 0x1000, 128 | 9, 0, 0), {"futex": "wait_bitset private", "timed": False}),
        (_wait("futex", 0x1000, 0, 0, 0x7FFC), {"futex": "wait shared", "timed": True}),
        (_wait("poll", 0x7FFC, 1, 2**32 - 1), {"timed": False}),  # timeout -1: join()
        (_wait("poll", 0x7FFC, 1, 100), {"timed": True}),  # join(timeout=0.1)
        (_wait("ppoll", 0x7FFC, 1, 0, 0), {"timed": False}),
        (_wait("clock_nanosleep", 0, 0, 0x7FFC, 0), {"timed": True}),
    ],
)
def test_decoding(wait: ThreadWait, expected: dict) -> None:
    for key, value in expected.items():
        assert getattr(wait, key) == value, key


def test_a_sleep_is_not_blocked_but_a_read_is() -> None:
    assert not _wait("clock_nanosleep", 0, 0, 1, 0).blocked
    assert _wait("read", 3, 0, 1).blocked
    assert not _wait("read", 3, 0, 1, state="R").blocked


def _child(code: str, **kwargs) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], **kwargs)
    time.sleep(0.4)  # let it reach the blocking call
    return proc


def _stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait(timeout=10)


def test_reader_blocked_on_a_pipe_and_its_holders() -> None:
    r, w = os.pipe()
    proc = _child(f"import os; os.read({r}, 10)", pass_fds=(r,))
    try:
        [main] = read_threads(proc.pid)
        assert main.syscall == "read" and main.fd == r and main.blocked
        child_end = next(e for e in ends_of(proc.pid) if e.fd == r)
        assert child_end.kind == "pipe" and child_end.mode == "r"
        table = holders([proc.pid, os.getpid()])
        ends = table[("pipe", child_end.inode)]
        assert {(e.pid, e.mode) for e in ends} == {(proc.pid, "r"), (os.getpid(), "r"),
                                                   (os.getpid(), "w")}  # fmt: skip
        assert bytes_queued(child_end) == 0
    finally:
        _stop(proc)
        os.close(r)
        os.close(w)


def test_writer_blocked_on_a_full_pipe() -> None:
    r, w = os.pipe()
    proc = _child(f"import os; os.write({w}, b'x' * 1_000_000)", pass_fds=(w,))
    try:
        [main] = read_threads(proc.pid)
        assert main.syscall == "write" and main.fd == w and main.blocked
        mine = End(os.getpid(), r, "pipe", os.fstat(r).st_ino, "r")
        assert bytes_queued(mine) == 65536  # the default pipe size: full
        writer = next(e for e in ends_of(proc.pid) if e.fd == w)
        assert writer.mode == "w" and bytes_queued(writer) is None  # a write end is never opened
    finally:
        _stop(proc)
        os.close(r)
        os.close(w)


def test_parent_waiting_for_its_child() -> None:
    proc = _child(
        """
        import os, sys, time
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        print(pid, flush=True)
        os.waitpid(pid, 0)
        """,
        stdout=subprocess.PIPE,
    )
    try:
        grandchild = int(proc.stdout.readline())
        [main] = read_threads(proc.pid)
        assert main.syscall == "wait4" and main.waits_for_pid == grandchild
        assert main.timed is False and main.blocked
    finally:
        os.kill(grandchild, 9)
        _stop(proc)


def test_lock_waits_timed_and_untimed() -> None:
    proc = _child(
        """
        import threading, time
        lock = threading.Lock()
        lock.acquire()
        threading.Thread(target=lambda: lock.acquire(timeout=30), daemon=True).start()
        lock.acquire()
        """
    )
    try:
        waits = read_threads(proc.pid)
        assert len(waits) == 2
        by_timed = {w.timed: w for w in waits}
        assert by_timed[False].futex.endswith("private") and by_timed[False].blocked
        assert by_timed[True].futex.endswith("private")
    finally:
        _stop(proc)


def test_gone_process_reads_as_nothing() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=10)
    assert read_threads(proc.pid) == [] and ends_of(proc.pid) is None
