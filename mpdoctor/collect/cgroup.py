"""The OOM-kill counter of the cgroup the run lives in, so a SIGKILL can be proven an OOM kill.

cgroup v2: `memory.events` line `oom_kill N` (hierarchical: counts the whole subtree).
cgroup v1: `memory.oom_control` line `oom_kill N` (kernels 4.13+).
The target inherits the monitor's cgroup, so the monitor's own cgroup is the one to read.
None whenever it cannot be read: no cgroup, no memory controller, a hidden mount.
"""

from __future__ import annotations

import os

PROC_SELF = "/proc/self"


def _mounts(proc: str) -> list[tuple[str, str, str, str]]:
    """(root within the fs, mount point, fs type, super options) of each cgroup mount."""
    found = []
    try:
        with open(f"{proc}/mountinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                left, sep, right = line.partition(" - ")
                if not sep:
                    continue
                fields, rest = left.split(), right.split()
                if len(fields) >= 5 and len(rest) >= 3 and rest[0] in ("cgroup", "cgroup2"):
                    found.append((fields[3], fields[4], rest[0], rest[2]))
    except OSError:
        pass
    return found


def _memberships(proc: str) -> list[tuple[str, str]]:
    """(controllers, path) lines of /proc/self/cgroup; controllers is "" for v2."""
    try:
        with open(f"{proc}/cgroup", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3:
            out.append((parts[1], parts[2]))
    return out


def _join(mount_root: str, mount_point: str, path: str) -> str | None:
    # mountinfo's root is where the mount starts inside the hierarchy (a container's own cgroup).
    if mount_root != "/":
        if path != mount_root and not path.startswith(mount_root + "/"):
            return None
        path = path[len(mount_root) :]
    return os.path.join(mount_point, path.lstrip("/"))


def _read_oom_kill(path: str) -> int | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
    except (OSError, ValueError):
        return None
    return None


def oom_kill_file(proc: str = PROC_SELF) -> str | None:
    """The file holding this process's cgroup OOM-kill counter, or None."""
    memberships = _memberships(proc)
    mounts = _mounts(proc)
    candidates = []
    for controllers, path in memberships:
        if controllers == "":
            candidates += [
                (_join(root, point, path), "memory.events")
                for root, point, fstype, _ in mounts
                if fstype == "cgroup2"
            ]
        elif "memory" in controllers.split(","):
            candidates += [
                (_join(root, point, path), "memory.oom_control")
                for root, point, fstype, opts in mounts
                if fstype == "cgroup" and "memory" in opts.split(",")
            ]
    for directory, name in candidates:
        if directory is not None:
            file = os.path.join(directory, name)
            if _read_oom_kill(file) is not None:
                return file
    return None


def oom_kills(proc: str = PROC_SELF) -> int | None:
    """The current OOM-kill count of this process's cgroup, or None if unreadable."""
    file = oom_kill_file(proc)
    return _read_oom_kill(file) if file else None


def oom_kills_between(start: int | None, end: int | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, end - start)
