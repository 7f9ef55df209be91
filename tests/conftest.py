"""Shared fixtures: run the real CLI in a subprocess, and fail any test that leaves a process,
or a named semaphore or shared memory block, behind.

Every process a test starts inherits MPDOCTOR_TEST_TOKEN (unique per test), so after the test
the leftovers are found exactly by scanning /proc/*/environ for that token, however they were
reparented. Leftovers are killed, then the test fails. multiprocessing's named semaphores and
SharedMemory blocks live in /dev/shm (`sem.mp-*`, `psm_*`) until unlinked: the ones a test
created and left are removed, then the test fails (tests run one at a time, so what appeared
during a test and no live process maps is the test's), unless the test is marked
`program_leaks_shm`: plain python running a sample whose documented failure kills processes
while they create semaphores.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import SAMPLES

TOKEN_VAR = "MPDOCTOR_TEST_TOKEN"


def processes_with_token(token: str) -> list[int]:
    found = []
    needle = f"{TOKEN_VAR}={token}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except OSError:
        return True


SHM = Path("/dev/shm")
SHM_PREFIXES = ("sem.mp-", "psm_")


def shm_names() -> set[str]:
    try:
        return {n for n in os.listdir(SHM) if n.startswith(SHM_PREFIXES)}
    except OSError:
        return set()


@pytest.fixture(autouse=True)
def no_leftovers(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[str]:
    token = uuid.uuid4().hex
    monkeypatch.setenv(TOKEN_VAR, token)
    shm_before = shm_names()
    yield token
    if not sys.platform.startswith("linux"):
        return
    _fail_on_leftover_processes(token)
    _fail_on_leftover_shm(shm_before, request.node.get_closest_marker("program_leaks_shm") is None)


def _fail_on_leftover_shm(before: set[str], fail: bool = True) -> None:
    # The resource tracker unlinks what a program leaked once the program is gone: give it a
    # moment after the processes, as the process check does.
    deadline = time.monotonic() + 1.0
    left = shm_names() - before
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = shm_names() - before
    left -= _mapped_elsewhere(left)  # another program's (a second pytest run): not ours
    for name in left:
        try:
            os.unlink(SHM / name)
        except OSError:
            pass
    if left and fail:
        pytest.fail("test left in /dev/shm: " + " ".join(sorted(left)))


def _mapped_elsewhere(names: set[str]) -> set[str]:
    """The names some live process has mapped: in use, whoever created them. Our tests'
    processes are gone by now, so a mapping is another program's (a semaphore or block that
    nobody maps any more is a leak). By inode: glibc maps a semaphore under a temporary name
    before linking it to its own, so /proc/PID/maps shows that name, deleted."""
    inodes = {}
    for name in names:
        try:
            inodes[str(os.stat(SHM / name).st_ino).encode()] = name
        except OSError:
            continue
    if not inodes:
        return set()
    mapped = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/maps", "rb") as f:
                lines = [line for line in f.read().splitlines() if b" /dev/shm/" in line]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 4 and fields[4] in inodes:
                mapped.add(inodes[fields[4]])
    return mapped


def _fail_on_leftover_processes(token: str) -> None:
    deadline = time.monotonic() + 3.0
    alive = [p for p in processes_with_token(token) if not _is_zombie(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in processes_with_token(token) if not _is_zombie(p)]
    if alive:
        descriptions = []
        for pid in alive:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
                descriptions.append(f"{pid}: {cmdline[:200]}")
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        pytest.fail("test left processes running:\n" + "\n".join(descriptions))


@pytest.fixture
def samples() -> Path:
    return SAMPLES
