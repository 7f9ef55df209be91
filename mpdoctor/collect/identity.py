"""Process identity: (pid, create_time), computed exactly as psutil does it.

psutil's create_time on Linux is `boot_time + starttime_ticks / CLK_TCK` (boot_time is the
`btime` line of /proc/stat). The probe reports the same ticks, so both sides compute the same
float; rounding to 2 decimals (ticks are 1/100 s) removes any float noise so keys compare equal.
"""

from __future__ import annotations

import functools
import time

from mpdoctor.collect import procfs
from mpdoctor.diagnose.evidence import ProcessKey

DECIMALS = 2


@functools.cache
def boot_time() -> float:
    """Seconds since the epoch at boot: /proc/stat btime (psutil.boot_time() elsewhere)."""
    try:
        with open(f"{procfs.PROC}/stat", "rb") as f:
            for line in f:
                if line.startswith(b"btime"):
                    return float(line.split()[1])
    except (OSError, IndexError, ValueError):
        pass
    import psutil  # only off Linux, or on a /proc without btime

    return float(psutil.boot_time())


@functools.cache
def _clock_ticks() -> int:
    return procfs.clock_ticks()


def round_time(create_time: float) -> float:
    return round(create_time, DECIMALS)


def create_time_from_ticks(ticks: int) -> float:
    return round_time(boot_time() + ticks / _clock_ticks())


def key_from_ticks(pid: int, ticks: int) -> ProcessKey:
    return ProcessKey(pid, create_time_from_ticks(ticks))


def key_of(pid: int) -> ProcessKey | None:
    """The current identity of `pid`, or None when it is gone."""
    if procfs.available():
        ticks = procfs.start_ticks(pid)
        return key_from_ticks(pid, ticks) if ticks is not None else None
    import psutil

    try:
        return ProcessKey(pid, round_time(psutil.Process(pid).create_time()))
    except (psutil.Error, OSError):
        return None


def clock_skew() -> float:
    """How far create_times run ahead of the wall clock, in seconds (usually -1..0).

    btime is whole seconds and the wall clock may have been stepped since boot, so a
    create_time is an identity, not a wall time: `create_time - clock_skew()` is the wall time.
    """
    try:
        with open(f"{procfs.PROC}/uptime", "rb") as f:
            uptime = float(f.read().split()[0])
    except (OSError, IndexError, ValueError):
        return 0.0
    return boot_time() + uptime - time.time()


def is_same(key: ProcessKey) -> bool:
    """True when `key.pid` still names the process `key` (not a new one with a reused pid)."""
    return key_of(key.pid) == key
