"""Named semaphores the tree left in /dev/shm once all of it is gone: unlinked.

The resource tracker unlinks what the program registered and leaked when it exits. A process
killed between creating a semaphore and registering it (a pool worker ended while it builds its
queues, a tree mpdoctor stopped) leaves one that nobody unlinks: it stays until reboot. The
probe writes each name before the semaphore is created (`resource` op `create`), so the monitor
knows every name the tree may have left, and unlinks those still present after the last
process of the tree is gone (the tracker included).

A name is unlinked only if its file belongs to this user and, for a name never registered, was
created no earlier than the probe wrote its name: a name whose creation failed because another
program's semaphore already had it is left alone. Linux only (/dev/shm shows the semaphores).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from mpdoctor.collect.events import ProcessEvents, ResourceEvent

SHM = Path("/dev/shm")
# File times are taken from the kernel's coarse clock (one tick, 1-10 ms, behind the precise
# time the probe read just before creating the semaphore).
COARSE_CLOCK_S = 0.05


def candidates(streams: Iterable[ProcessEvents]) -> dict[str, float | None]:
    """Semaphore names the tree created and never unregistered (unlinked), each with the time
    its name was written if it was never registered (None: its creation is certain)."""
    ops = sorted(
        (ev for stream in streams for ev in stream.of(ResourceEvent) if ev.rtype == "semaphore"),
        key=lambda ev: ev.t,
    )
    names: dict[str, float | None] = {}
    for ev in ops:
        if ev.op == "create":
            names.setdefault(ev.name, ev.t)
        elif ev.op == "register":
            names[ev.name] = None
        else:
            names.pop(ev.name, None)
    return names


def unlink_leftovers(streams: Iterable[ProcessEvents], shm: Path = SHM) -> list[str]:
    """Unlink the tree's semaphores still in `shm`; the names unlinked."""
    unlinked = []
    for name, named_at in candidates(streams).items():
        path = shm / ("sem." + name.lstrip("/"))
        try:
            st = os.lstat(path)
        except OSError:
            continue  # unlinked by the program or the tracker, or never created
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
            continue
        if named_at is not None and st.st_ctime < named_at - COARSE_CLOCK_S:
            continue  # older than the name: another program's semaphore
        try:
            os.unlink(path)
        except OSError:
            continue
        unlinked.append(name)
    return unlinked
