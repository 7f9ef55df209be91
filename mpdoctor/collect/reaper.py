"""Reaping the monitor's children: the target, and orphans reparented to the subreaper.

Never `waitpid(-1)`: that could take the target's status in passing, or a status another part of
the monitor waits for. Zombie children are found with `waitid(P_ALL, WNOWAIT)`, which looks
without reaping, then each is reaped by its own pid; pids registered with `ignore()` (helpers
the monitor itself runs) are left to their owner.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from mpdoctor.collect import identity
from mpdoctor.diagnose.evidence import ProcessKey


@dataclass(frozen=True)
class Reaped:
    """A child mpdoctor reaped: its status, and when.

    No peak memory: wait4's ru_maxrss counts the address space the child had before its exec
    (under posix_spawn or vfork, mpdoctor's own; after a fork, a copy of its parent's) and the
    children it reaped, so it is never a process's own peak."""

    pid: int
    key: ProcessKey | None  # None if its /proc entry could not be read before reaping
    status: int  # the raw wait status
    t: float  # time.time() when reaped

    @property
    def exit_code(self) -> int | None:
        return os.waitstatus_to_exitcode(self.status) if os.WIFEXITED(self.status) else None

    @property
    def signal(self) -> int | None:
        return os.WTERMSIG(self.status) if os.WIFSIGNALED(self.status) else None


class Reaper:
    def __init__(self, target_pid: int, before_reap: Callable[[int], None] | None = None):
        self.target_pid = target_pid
        self.target: Reaped | None = None
        self._before_reap = before_reap  # e.g. a last sample of the zombie's /proc entry

    def poll_target(self) -> Reaped | None:
        if self.target is None:
            self.target = self._reap(self.target_pid)
        return self.target

    def reap_orphans(self) -> list[Reaped]:
        """Reap every exited child; the target's status is kept for poll_target."""
        out = []
        for _ in range(10_000):  # bounded: each turn reaps one zombie
            pid = _peek_zombie_child()
            if pid is None:
                break
            if pid == self.target_pid and self.target is None:
                if self.poll_target() is None:
                    break
                continue
            # (an orphan may reuse the target's pid once the target was reaped: reap it too)
            reaped = self._reap(pid)
            if reaped is None:
                break
            out.append(reaped)
        return out

    def _reap(self, pid: int) -> Reaped | None:
        # Look first (WNOWAIT) so the zombie's /proc entry can be read, then reap.
        if not _has_exited(pid):
            return None
        key = identity.key_of(pid)
        if self._before_reap is not None:
            self._before_reap(pid)
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if got == 0:
            return None
        return Reaped(pid, key, status, time.time())


def _has_exited(pid: int) -> bool:
    if not hasattr(os, "waitid"):
        return True  # waitpid with WNOHANG below is still safe, only less informative
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return False


def _peek_zombie_child() -> int | None:
    if not hasattr(os, "waitid"):
        return None
    try:
        info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return None
    return info.si_pid if info is not None else None
