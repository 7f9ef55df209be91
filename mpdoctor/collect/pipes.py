"""Who holds each end of each pipe and socket in a set of processes, and how full a pipe is
(Linux /proc; empty elsewhere).

A pipe is `pipe:[inode]` in `/proc/PID/fd/N`; which end a descriptor is comes from the access
mode the kernel shows as the permission bits of that link (a pipe's read end is O_RDONLY, its
write end O_WRONLY). Every
holder counts: under fork a child also holds its queue's read end, so "no live process can ever
write this" needs all of them. The bytes queued in a pipe are read with FIONREAD on a descriptor
opened from the *read* end's /proc link (O_NONBLOCK, closed at once); a write end is never
opened, so no reader or writer is ever added where the program would see it.
"""

from __future__ import annotations

import array
import fcntl
import os
import stat
import termios
from typing import NamedTuple


class End(NamedTuple):  # a tuple: a forked tree's scan builds thousands of them
    pid: int
    fd: int
    kind: str  # pipe | socket
    inode: int
    mode: str  # r | w | rw


def ends_of(pid: int, modes: bool = True) -> list[End] | None:
    """The pipe and socket descriptors of `pid`; None when its table cannot be read (another
    user's, non-dumpable) or it is gone. Without `modes` each end's mode is "?" (one
    system call per descriptor instead of two: `with_modes` fills in those that matter)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    ends = []
    base = f"/proc/{pid}/fd/"
    for name in fds:
        try:
            link = os.readlink(base + name)
        except OSError:
            continue
        kind = "pipe" if link[:6] == "pipe:[" else "socket" if link[:8] == "socket:[" else None
        if kind is not None:
            mode = _mode(pid, name) if modes else "?"
            if mode is not None:
                ends.append(End(pid, int(name), kind, int(link[len(kind) + 2 : -1]), mode))
    return ends


def end_at(pid: int, fd: int) -> End | None:
    """The pipe end descriptor `fd` of `pid` is, with its mode; None for anything else (or a
    descriptor gone meanwhile): one readlink and one lstat, not the whole table."""
    try:
        link = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return None
    if link[:6] != "pipe:[":
        return None
    mode = _mode(pid, str(fd))
    return End(pid, fd, "pipe", int(link[6:-1]), mode) if mode is not None else None


def _mode(pid: int, fd: str) -> str | None:
    """The access mode of a descriptor, from the permission bits of its /proc link (the kernel
    sets them from the open mode: r-x for O_RDONLY, -wx for O_WRONLY): one lstat, where
    fdinfo takes an open, a read and a close."""
    try:
        mode = os.lstat(f"/proc/{pid}/fd/{fd}").st_mode
    except OSError:
        return None
    readable, writable = bool(mode & stat.S_IRUSR), bool(mode & stat.S_IWUSR)
    return "rw" if readable and writable else "r" if readable else "w" if writable else None


def with_modes(ends: list[End]) -> list[End]:
    """`ends` with their modes read (those closed meanwhile left out)."""
    found = []
    for end in ends:
        mode = end.mode if end.mode != "?" else _mode(end.pid, str(end.fd))
        if mode is not None:
            found.append(End(end.pid, end.fd, end.kind, end.inode, mode))
    return found


def holders(
    pids: list[int], unreadable: set[int] | None = None, modes: bool = True
) -> dict[tuple[str, int], list[End]]:
    """(kind, inode) -> every end of it held by one of `pids` (those whose table cannot be read
    are added to `unreadable`); modes "?" unless `modes`."""
    table: dict[tuple[str, int], list[End]] = {}
    for pid in pids:
        ends = ends_of(pid, modes)
        if ends is None:
            if unreadable is not None and os.path.exists(f"/proc/{pid}"):
                unreadable.add(pid)
            continue
        for end in ends:
            table.setdefault((end.kind, end.inode), []).append(end)
    return table


def bytes_queued(end: End) -> int | None:
    """Bytes waiting in the pipe `end` belongs to, read through a read end; None when `end` is
    not a pipe's read end or the descriptor is gone. Opening it adds a reader for a moment,
    next to the one that holds it: no writer can see the difference."""
    if end.kind != "pipe" or end.mode != "r":
        return None  # never open a write end
    try:
        fd = os.open(f"/proc/{end.pid}/fd/{end.fd}", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if os.readlink(f"/proc/self/fd/{fd}") != f"pipe:[{end.inode}]":
            return None  # the number was reused by something else meanwhile
        count = array.array("i", [0])
        fcntl.ioctl(fd, termios.FIONREAD, count, True)
        return count[0]
    except OSError:
        return None
    finally:
        os.close(fd)
