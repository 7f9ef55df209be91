"""Running the real CLI and plain python in subprocesses, for the tests (imported by name:
`from cli_support import run_mpdoctor`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def mpdoctor_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "mpdoctor", *args]


def run_mpdoctor(args: Sequence[str], **options) -> subprocess.CompletedProcess[bytes]:
    """Run the real CLI (`python -m mpdoctor ARGS`), as run_plain runs any command."""
    return run_plain(mpdoctor_argv(*args), **options)


def run_plain(
    argv: Sequence[str],
    *,
    timeout: float = 60,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run a command with stdout and stderr captured as bytes, stdin empty unless given, and
    the colour variables of the test machine removed (tests set what they need)."""
    inherited = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    return subprocess.run(
        list(argv),
        input=input if input is not None else b"",
        capture_output=True,
        timeout=timeout,
        env={**inherited, "COLUMNS": "120", **(env or {})},
        cwd=str(cwd or ROOT),
    )


def end_group(pgid: int, leader: subprocess.Popen | None = None) -> None:
    """End process group `pgid` as Ctrl-C leaves a tree clean: SIGTERM first (the resource
    tracker ignores it, and unlinks the semaphores the program registered once the others
    are gone; a SIGKILL for all would leave them in /dev/shm), then SIGKILL for what is left.
    `leader` (the group's Popen) is reaped as it goes: a zombie would keep the group alive."""
    for signo, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, signo)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if leader is not None:
                leader.poll()
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.02)
    if leader is not None:
        leader.wait(timeout=10)
