"""Shared fixtures: run the real CLI in a subprocess, and fail any test that leaves a process.

Every process a test starts inherits MPDOCTOR_TEST_TOKEN (unique per test), so after the test
the leftovers are found exactly by scanning /proc/*/environ for that token, however they were
reparented. Leftovers are killed, then the test fails.
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


@pytest.fixture(autouse=True)
def no_leftover_processes(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    token = uuid.uuid4().hex
    monkeypatch.setenv(TOKEN_VAR, token)
    yield token
    if not sys.platform.startswith("linux"):
        return
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
