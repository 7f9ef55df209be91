"""Whether the tree is making progress, and since when it has not.

Progress is any of: a process started or ended, the probe wrote an event, or the tree used more
CPU than a trickle (MIN_CPU_SHARE of one core since the last progress). A loop that polls an
empty queue ten times a second stays under the trickle and counts as stalled; a busy worker never
does. The monitor feeds it on each turn of its loop from what the sampler already read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MIN_CPU_SHARE = 0.02  # of one core
CPU_SLACK_S = 0.05  # clock-tick granularity of the CPU counters (10 ms) and the odd wake-up


@dataclass(frozen=True)
class Activity:
    """The tree at one look: its live pids, their CPU, the bytes of the probe's event files."""

    pids: frozenset[int]
    cpu_s: float  # total CPU of the live processes
    event_bytes: int  # total size of the probe's event files


class EventBytes:
    """Total size of the event files of the live processes. The directory is listed again only
    when it changed (a process registered): a run that started thousands of processes still
    costs one stat per live process."""

    def __init__(self, events_dir: Path):
        self.events_dir = events_dir
        self._mtime_ns = -1
        self._names: dict[int, list[str]] = {}  # pid -> its event files

    def total(self, pids: list[int]) -> int:
        self._relist()
        total = 0
        for pid in pids:
            for name in self._names.get(pid, ()):
                try:
                    total += os.stat(os.path.join(self.events_dir, name)).st_size
                except OSError:
                    pass
        return total

    def _relist(self) -> None:
        try:
            mtime = os.stat(self.events_dir).st_mtime_ns
            if mtime == self._mtime_ns:
                return
            names = os.listdir(self.events_dir)
        except OSError:
            return
        self._mtime_ns = mtime
        self._names = {}
        for name in names:
            pid, _, _rest = name.partition("-")
            if pid.isdigit():
                self._names.setdefault(int(pid), []).append(name)


class ProgressWatch:
    def __init__(self) -> None:
        self.mark: Activity | None = None
        self.mark_s = 0.0  # when the tree last made progress

    def observe(self, now_s: float, activity: Activity) -> bool:
        """Record a reading; True when it shows progress since the last one that did."""
        mark = self.mark
        progressed = (
            mark is None
            or activity.pids != mark.pids
            or activity.event_bytes != mark.event_bytes
            or activity.cpu_s - mark.cpu_s > MIN_CPU_SHARE * (now_s - self.mark_s) + CPU_SLACK_S
        )
        if progressed:
            self.mark, self.mark_s = activity, now_s
        return progressed

    def quiet_for(self, now_s: float) -> float:
        """Seconds without progress."""
        return 0.0 if self.mark is None else now_s - self.mark_s
