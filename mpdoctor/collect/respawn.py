"""Respawn loops: children that die before doing any work, again and again, under one parent.

A Pool replaces a dead worker at once, so a worker that cannot start (the main module starting
processes at import in a spawn child, a failing initializer) makes it print the same traceback
hundreds of times a second, forever. The probe creates an empty file `alerts/<ppid>-<pid>` as
such a child dies; the monitor lists that directory on each turn of its loop (one syscall) and
stops the tree once one parent has lost LIMIT children that way.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

# Enough to be a loop (a program starting a few bare Processes at import time stays under it),
# few enough to stop within a second: a Pool respawns tens of workers per second.
LIMIT = 8


class RespawnWatch:
    def __init__(self, alerts_dir: Path, limit: int = LIMIT):
        self.alerts_dir = alerts_dir
        self.limit = limit

    def looping_parent(self) -> int | None:
        """The pid of a parent that has lost `limit` children at start-up, if any."""
        try:
            names = os.listdir(self.alerts_dir)
        except OSError:
            return None
        if len(names) < self.limit:
            return None
        counts = Counter(name.split("-", 1)[0] for name in names)
        ppid, count = counts.most_common(1)[0]
        return int(ppid) if count >= self.limit and ppid.isdigit() else None
