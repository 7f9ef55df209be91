"""Session directories whose `mpdoctor run` died without removing them (SIGKILL, OOM, power).

A session holds each probed process's argv and environment-derived details unredacted, so it
must not outlive its run. Each run claims its session (an `owner` file with its identity, on
which it holds an exclusive flock until its end) and, once the program has started, removes
the sessions beside it that are stale:

* no run holds the owner file's lock (a live run in another pid namespace, or on another host
  sharing the directory, looks dead by its pid from here: its lock tells);
* and the owner's (pid, create_time) names no live process, or, for a directory without an
  owner file (written by an older mpdoctor, or a run killed before it claimed), the directory
  is older than a day;
* and no process that registered in it is alive (zombies are not): a tree its mpdoctor left
  running keeps its session, so `mpdoctor inspect` still finds its roles, events and stacks;
* and nothing in it changed for QUIET_S.

Only private directories (mode 0700) of this user named `mpdoctor-*` are touched; every
error is ignored (the sweep is a courtesy, never a reason for a run to fail).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import time
from pathlib import Path

from mpdoctor.collect import identity, procfs
from mpdoctor.collect.events import parse_file_name
from mpdoctor.diagnose.evidence import ProcessKey

PREFIX = "mpdoctor-"
OWNER_FILE = "owner"
UNCLAIMED_MAX_AGE_S = 24 * 3600.0
QUIET_S = 300.0


def claim(session_dir: Path) -> int | None:
    """Write this process's identity into the session and lock it, for the sweeps of later
    runs. Returns the locked descriptor (close it when the run ends), None when unclaimed."""
    me = identity.key_of(os.getpid())
    if me is None:
        return None
    fd = -1
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(session_dir / OWNER_FILE, flags, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, f"{me.pid} {me.create_time!r}\n".encode())
        return fd
    except OSError:
        if fd >= 0:
            os.close(fd)
        return None


def release(fd: int | None) -> None:
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass


def sweep(parent: Path, keep: Path) -> list[Path]:
    """Remove the stale sessions in `parent` (never `keep`); the ones removed."""
    try:
        names = [n for n in os.listdir(parent) if n.startswith(PREFIX)]
    except OSError:
        return []
    removed = []
    for name in names:
        path = parent / name
        try:
            if path != keep and _is_stale(path):
                shutil.rmtree(path, ignore_errors=True)
                if not os.path.lexists(path):
                    removed.append(path)
        except Exception:  # an odd file name, a permission: never fail the run for it
            continue
    return removed


def _is_stale(path: Path) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if (
        not stat.S_ISDIR(st.st_mode)
        or st.st_uid != os.getuid()
        or stat.S_IMODE(st.st_mode) != 0o700
    ):
        return False
    if not _quiet(path):
        return False
    locked, owner = _owner(path / OWNER_FILE)
    if locked:
        return False
    if owner is not None:
        if identity.is_same(owner):
            return False
    elif time.time() - st.st_mtime < UNCLAIMED_MAX_AGE_S:
        return False
    return not _registered_alive(path / "events")


def _quiet(path: Path) -> bool:
    """Nothing written in the session (its directories or an event file) for QUIET_S."""
    since = time.time() - QUIET_S
    try:
        paths = [path, path / "events", *(path / "events").iterdir()]
        return all(os.lstat(p).st_mtime < since for p in paths)
    except OSError:
        return False


def _owner(owner_file: Path) -> tuple[bool, ProcessKey | None]:
    """Whether a run holds the owner file's lock (True also when that cannot be told), and
    the identity written in it (None: no owner file, or unreadable)."""
    try:
        fd = os.open(owner_file, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return False, None
    except OSError:
        return True, None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True, None
        pid_text, time_text = os.read(fd, 256).split()
        return False, ProcessKey(int(pid_text), float(time_text))
    except (OSError, ValueError):
        return False, None
    finally:
        os.close(fd)


def _registered_alive(events_dir: Path) -> bool:
    """Whether a process that registered in these events is still running (by its pid and
    start ticks; without ticks, off Linux, a live pid counts as alive)."""
    try:
        names = os.listdir(events_dir)
    except OSError:
        return False
    linux = procfs.available()
    for name in names:
        ident = parse_file_name(name)
        if ident is None:
            continue
        pid, ticks = ident
        if not linux:
            if identity.key_of(pid) is not None:
                return True
            continue
        now = procfs.read_stat(pid)  # one read: start ticks and state
        if now is not None and now.state != "Z" and ticks in (None, now.start_ticks):
            return True  # (a zombie runs nothing any more)
    return False
