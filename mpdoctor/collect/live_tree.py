"""The live tree below a pid, as `mpdoctor inspect` finds it: breadth first, bounded.

Processes are keyed by (pid, create_time) through `ProcfsReader`; a child that is gone or was
reparented between two reads is left out. mpdoctor's own process is never part of the tree
(`inspect $$` from a shell). Beyond the bound, what was skipped is counted (for at most
COUNT_BUDGET_S), so the report can say how much it did not look at.
"""

from __future__ import annotations

import os
import time

from mpdoctor.collect import procfs
from mpdoctor.collect.sampler import ProcfsReader, Reading

COUNT_BUDGET_S = 0.5  # counting what a huge tree skipped stops after this long


def discover(root: Reading, limit: int) -> tuple[list[Reading], int]:
    """The tree below `root`, breadth first (parents before children), at most `limit`
    processes, and how many more there were (counted for at most COUNT_BUDGET_S)."""
    reader = ProcfsReader()
    own = {os.getpid()}
    found = [root]
    queue = [root.key.pid]
    seen = {root.key.pid}
    overflow: list[int] = []
    while queue:
        pid = queue.pop(0)
        for child in sorted(procfs.children(pid) or []):
            if child in seen or child in own:
                continue
            seen.add(child)
            if len(found) >= limit:
                overflow.append(child)
                continue
            reading = reader.read(child)
            if reading is None or reading.ppid != pid:
                continue  # gone, or reparented meanwhile
            found.append(reading)
            queue.append(child)
    return found, _count_below(overflow, seen)


def _count_below(pids: list[int], seen: set[int]) -> int:
    count, deadline = 0, time.monotonic() + COUNT_BUDGET_S
    while pids and time.monotonic() < deadline:
        pid = pids.pop()
        count += 1
        for child in procfs.children(pid) or []:
            if child not in seen:
                seen.add(child)
                pids.append(child)
    return count + len(pids)
