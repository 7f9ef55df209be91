"""Run one command and measure it: wall time, CPU of its whole tree, and (optionally) the CPU
that its own top process spends during a window of its life.

Every command runs in a session of its own, so whatever it leaves is found and killed.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import statistics
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psutil


@dataclass
class Sample:
    wall_s: float
    tree_cpu_s: float  # user + system of every descendant that was reaped (rusage children)
    returncode: int
    window_cpu_s: float | None = None  # the top process's own CPU during the window


class RunFailed(RuntimeError):
    pass


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _own_cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()  # the process's threads only: children are not counted here
    return times.user + times.system


def run_once(
    argv: Sequence[str],
    *,
    timeout: float = 180,
    window: tuple[float, float] | None = None,
    env: dict[str, str] | None = None,
) -> Sample:
    """Run argv to its end; with `window=(a, b)`, also measure its own CPU from a to b seconds."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
    )
    window_cpu = None
    # Popen.wait(timeout) polls with sleeps that grow to 50 ms: the end of a run would be seen
    # up to 50 ms late (wall times on 50 ms steps). A blocking wait sees it at once; a timer
    # kills the run's session if it overstays.
    timed_out = threading.Event()

    def overstayed() -> None:
        timed_out.set()
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)

    watchdog = threading.Timer(timeout, overstayed)
    watchdog.start()
    try:
        if window is not None:
            window_cpu = _window_cpu(proc, started, window)
        returncode = proc.wait()
        wall = time.perf_counter() - started
    finally:
        watchdog.cancel()
        _kill_session(proc.pid)
    if timed_out.is_set():
        raise RunFailed(f"timed out after {timeout} s: {' '.join(argv)}")
    return Sample(wall, _children_cpu() - cpu_before, returncode, window_cpu)


def _window_cpu(proc: subprocess.Popen, started: float, window: tuple[float, float]) -> float:
    watched = psutil.Process(proc.pid)
    begin, end = window
    time.sleep(max(0.0, started + begin - time.perf_counter()))
    cpu_begin = _own_cpu(watched)
    time.sleep(max(0.0, started + end - time.perf_counter()))
    if proc.poll() is not None:
        raise RunFailed(f"the process ended before the end of the window ({end} s)")
    return _own_cpu(watched) - cpu_begin


def _kill_session(sid: int) -> None:
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and os.getsid(proc.pid) == sid:
                proc.kill()
        except (OSError, psutil.Error):
            continue


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
