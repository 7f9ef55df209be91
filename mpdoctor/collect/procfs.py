"""Small readers of Linux /proc that never raise: a process that vanished reads as None.

These are the sampler's hot path (a few µs each, no psutil), so they read raw bytes with
os.open/os.read and parse only what is asked. Off Linux every reader returns None.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

PROC = "/proc"

# 1-based field numbers of /proc/PID/stat (proc(5)); fields after the comm start at field 3.
_F_STATE = 3
_F_PPID = 4
_F_FLAGS = 9
_F_MINFLT = 10
_F_MAJFLT = 12
_F_UTIME = 14
_F_STIME = 15
_F_NUM_THREADS = 20
_F_STARTTIME = 22
_F_EXIT_CODE = 52
# Where the address space puts the program's code and stack (fields 26-28), its data, heap,
# arguments and environment (45-51): an exec builds a new one (other addresses, randomized at
# every exec); a fork copies its parent's. Hidden (1 1 0 0 ...) without ptrace read access, 0
# once the process has no address space (a zombie).
_F_STARTCODE, _F_STARTSTACK, _F_STARTDATA, _F_ENVEND = 26, 28, 45, 51
_PF_KTHREAD = 0x00200000


def _read(path: str, size: int = 4096) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, size)
    except OSError:
        return None
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Stat:
    """The fields of /proc/PID/stat the monitor uses."""

    comm: str
    state: str  # one letter: R S D Z T t X I ...
    ppid: int
    utime_ticks: int
    stime_ticks: int
    faults: int  # minor + major page faults: memory cannot grow without them
    num_threads: int
    start_ticks: int  # since boot, in CLK_TCK units: with pid, the process's identity
    exit_code: int | None  # waitpid status, meaningful for a zombie only (field 52)
    image: tuple[bytes, ...] | None = None  # fields 26-28, 45-51 as read; None: hidden, gone


def _stat_fields(pid: int) -> tuple[str, list[bytes]] | None:
    raw = _read(f"{PROC}/{pid}/stat")
    if not raw:
        return None
    # The comm may hold spaces and parentheses: it ends at the LAST ')'.
    head, sep, tail = raw.rpartition(b")")
    if not sep:
        return None
    comm = head.partition(b"(")[2].decode("utf-8", "replace")
    return comm, tail.split()


def _field(fields: list[bytes], number: int) -> bytes | None:
    index = number - _F_STATE
    return fields[index] if 0 <= index < len(fields) else None


def read_stat(pid: int) -> Stat | None:
    parsed = _stat_fields(pid)
    if parsed is None:
        return None
    comm, fields = parsed
    try:
        exit_raw = _field(fields, _F_EXIT_CODE)
        return Stat(
            comm=comm,
            state=fields[0].decode(),
            ppid=int(fields[_F_PPID - _F_STATE]),
            utime_ticks=int(fields[_F_UTIME - _F_STATE]),
            stime_ticks=int(fields[_F_STIME - _F_STATE]),
            faults=int(fields[_F_MINFLT - _F_STATE]) + int(fields[_F_MAJFLT - _F_STATE]),
            num_threads=int(fields[_F_NUM_THREADS - _F_STATE]),
            start_ticks=int(fields[_F_STARTTIME - _F_STATE]),
            exit_code=int(exit_raw) if exit_raw is not None else None,
            image=_image(fields),
        )
    except (IndexError, ValueError):
        return None


def _image(fields: list[bytes]) -> tuple[bytes, ...] | None:
    """Compared, never computed with: the raw fields (the sampler's hot path)."""
    if len(fields) <= _F_ENVEND - _F_STATE or fields[_F_STARTSTACK - _F_STATE] == b"0":
        return None  # an old kernel, no ptrace read access, or no address space any more
    code = fields[_F_STARTCODE - _F_STATE : _F_STARTSTACK - _F_STATE + 1]
    return (*code, *fields[_F_STARTDATA - _F_STATE : _F_ENVEND - _F_STATE + 1])


def state_letter(pid: int) -> str | None:
    stat = read_stat(pid)
    return stat.state if stat else None


def start_ticks(pid: int) -> int | None:
    stat = read_stat(pid)
    return stat.start_ticks if stat else None


def zombie_exit_status(pid: int) -> int | None:
    """The waitpid status a zombie holds (field 52), e.g. 9 (SIGKILL) or 768 (exit 3).

    None when the process is not a zombie: the field is only final once the process exited.
    """
    stat = read_stat(pid)
    if stat is None or stat.state not in ("Z", "X"):
        return None
    return stat.exit_code


def peak_rss_bytes(pid: int) -> int | None:
    """VmHWM (peak resident set size) in bytes; None for zombies, kernel threads, gone pids."""
    return _status_bytes(pid, b"VmHWM")


def rss_bytes(pid: int) -> int | None:
    """VmRSS (resident set size now) in bytes; None for zombies, kernel threads, gone pids."""
    return _status_bytes(pid, b"VmRSS")


def _status_bytes(pid: int, name: bytes) -> int | None:
    """A size line of /proc/PID/status ("VmHWM:   1234 kB") in bytes."""
    raw = _read(f"{PROC}/{pid}/status", 8192)
    if not raw:
        return None
    start = raw.find(b"\n" + name + b":")
    if start < 0:
        return None
    end = raw.find(b"\n", start + 1)
    parts = raw[start + len(name) + 2 : end if end > 0 else None].split()
    try:
        return int(parts[0]) * 1024  # the kernel always reports kB
    except (IndexError, ValueError):
        return None


def is_kernel_thread(pid: int) -> bool:
    """The kernel's own thread (PF_KTHREAD in the flags, field 9): no program to inspect."""
    parsed = _stat_fields(pid)
    flags = _field(parsed[1], _F_FLAGS) if parsed else None
    try:
        return flags is not None and bool(int(flags) & _PF_KTHREAD)
    except ValueError:
        return False


def cmdline(pid: int) -> list[str] | None:
    raw = _read(f"{PROC}/{pid}/cmdline", 1 << 16)
    if not raw:
        return None if raw is None else []  # empty: a zombie or a kernel thread
    return [arg.decode("utf-8", "surrogateescape") for arg in raw.rstrip(b"\0").split(b"\0")]


def exe(pid: int) -> str | None:
    try:
        return os.readlink(f"{PROC}/{pid}/exe")
    except OSError:
        return None


def children(pid: int) -> list[int] | None:
    """Direct children of every thread of `pid`.

    Uses /proc/PID/task/TID/children where the kernel has it (CONFIG_PROC_CHILDREN), else
    scans /proc for processes whose ppid is `pid`. None when `pid` is gone.
    """
    try:
        tids = os.listdir(f"{PROC}/{pid}/task")
    except OSError:
        return None
    found: list[int] = []
    for tid in tids:
        raw = _read(f"{PROC}/{pid}/task/{tid}/children", 1 << 16)
        if raw is None:
            return [p for p in all_pids() if (s := read_stat(p)) is not None and s.ppid == pid]
        found.extend(int(c) for c in raw.split())
    return found


def ancestors(pid: int) -> list[int]:
    """The parent of `pid`, its parent and so on up to (not including) pid 0, nearest first."""
    found: list[int] = []
    stat = read_stat(pid)
    while stat is not None and stat.ppid > 0 and stat.ppid not in found:
        found.append(stat.ppid)
        stat = read_stat(stat.ppid)
    return found


def all_pids() -> list[int]:
    try:
        return [int(entry) for entry in os.listdir(PROC) if entry.isdigit()]
    except OSError:
        return []


def clock_ticks() -> int:
    try:
        return os.sysconf("SC_CLK_TCK")
    except (ValueError, OSError, AttributeError):
        return 100


def available() -> bool:
    """True where /proc has the Linux layout these readers parse."""
    return os.path.exists(f"{PROC}/self/stat")
