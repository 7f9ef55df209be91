"""What each thread of a process is waiting on, read from /proc (Linux; None elsewhere).

For every thread: its state, its wait channel (the kernel function it sleeps in; names differ
between kernels, so nothing here depends on them) and the system call it is blocked in, decoded
with per-architecture tables: `wait4` and the pid it waits for, `read`/`write` and the
descriptor, `poll`/`ppoll` (a `join(timeout)` waits here, on the sentinel), `futex` private or
shared, sleeps, and whether the call has a timeout (a timed wait is never a deadlock).

`/proc/PID/task/TID/syscall` is readable only where ptrace would be allowed (same user, Yama
`ptrace_scope` permitting): an unreadable one gives `syscall=None, readable=False`, and the rules
built on it must say "suspected".
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass

# Numbers of the calls a blocked Python thread sits in, per architecture.
_X86_64 = {
    0: "read", 1: "write", 7: "poll", 17: "pread64", 19: "readv", 20: "writev", 23: "select",
    34: "pause", 35: "nanosleep", 42: "connect", 43: "accept", 44: "sendto", 45: "recvfrom",
    46: "sendmsg", 47: "recvmsg", 61: "wait4", 202: "futex", 230: "clock_nanosleep",
    128: "rt_sigtimedwait", 130: "rt_sigsuspend", 232: "epoll_wait", 247: "waitid",
    270: "pselect6", 271: "ppoll", 281: "epoll_pwait",
    288: "accept4", 441: "epoll_pwait2",
}  # fmt: skip
_AARCH64 = {
    22: "epoll_pwait", 63: "read", 64: "write", 65: "readv", 66: "writev", 67: "pread64",
    72: "pselect6", 73: "ppoll", 95: "waitid", 98: "futex", 101: "nanosleep",
    115: "clock_nanosleep", 133: "rt_sigsuspend", 137: "rt_sigtimedwait", 202: "accept",
    203: "connect", 206: "sendto", 207: "recvfrom",
    211: "sendmsg", 212: "recvmsg", 242: "accept4", 260: "wait4", 441: "epoll_pwait2",
}  # fmt: skip
SYSCALL_TABLES = {"x86_64": _X86_64, "amd64": _X86_64, "aarch64": _AARCH64, "arm64": _AARCH64}

_FD_CALLS = {"read", "write", "readv", "writev", "pread64", "recvfrom", "sendto", "recvmsg",
             "sendmsg", "accept", "accept4", "connect"}  # fmt: skip
_SLEEPS = {"nanosleep", "clock_nanosleep", "pause"}
# Waiting for a signal (signal.pause(), sigwait): any signal ends it, the stack signal too.
SIGNAL_WAITS = {"pause", "rt_sigsuspend", "rt_sigtimedwait"}
_FUTEX_PRIVATE = 128
_FUTEX_CMD_MASK = 0x7F  # without FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME
_FUTEX_WAITS = {0: "wait", 9: "wait_bitset", 6: "lock_pi", 11: "wait_requeue_pi"}
_WNOHANG = 1


@dataclass
class ThreadWait:
    """What one thread is blocked in, read from /proc."""

    tid: int
    state: str  # R running, S sleeping, D disk sleep, T stopped, Z zombie, ...
    wchan: str | None  # kernel function it sleeps in (kernel-specific: never matched on)
    readable: bool = True  # /proc/.../syscall could be read (ptrace access)
    syscall: str | None = None  # "read", "futex"..., "running", or "nr=N" for others
    args: tuple[int, ...] = ()
    fd: int | None = None  # read / write / recv / send / accept / connect
    waits_for_pid: int | None = None  # wait4 / waitid: the awaited pid (-1: any child)
    futex: str | None = None  # "wait private", "wait shared", "lock_pi shared"...
    futex_addr: int | None = None  # the futex word's address (a shared one: which mapping)
    timed: bool | None = None  # the call returns by itself (timeout, WNOHANG); None: unknown

    @property
    def blocked(self) -> bool:
        """Asleep in a call that waits on something (not running, not a plain sleep)."""
        return self.state in ("S", "D") and self.syscall not in (
            None,
            "running",
            *_SLEEPS,
            *SIGNAL_WAITS,
        )


def syscall_table(machine: str | None = None) -> dict[int, str]:
    return SYSCALL_TABLES.get((machine or platform.machine()).lower(), {})


def parse_syscall(text: str, table: dict[int, str]) -> tuple[str | None, tuple[int, ...]]:
    """`/proc/.../syscall` -> (name, arguments): "running", a blocked call, or (None, ()) when
    the thread is blocked outside a system call ("-1 sp pc")."""
    parts = text.split()
    if not parts:
        return None, ()
    if parts[0] == "running":
        return "running", ()
    number = int(parts[0])
    if number < 0:
        return None, ()
    args = tuple(int(a, 16) for a in parts[1:7])
    return table.get(number, f"nr={number}"), args


def decode(wait: ThreadWait) -> ThreadWait:
    """Fill the decoded fields from `syscall` and `args`."""
    name, args = wait.syscall, wait.args
    if name in _FD_CALLS and args:
        wait.fd = _signed(args[0])
        wait.timed = None  # a blocking descriptor has no timeout of its own
    elif name == "wait4" and len(args) >= 4:
        wait.waits_for_pid = _signed(args[0], 32)  # pid_t: -1 is 0xffffffff
        wait.timed = bool(args[2] & _WNOHANG)
    elif name == "waitid" and len(args) >= 4:
        wait.waits_for_pid = _signed(args[1], 32) if args[0] == 1 else -1  # P_PID
        wait.timed = bool(args[3] & _WNOHANG)
    elif name == "futex" and len(args) >= 4:
        op = args[1]
        kind = _FUTEX_WAITS.get(op & _FUTEX_CMD_MASK, f"op{op & _FUTEX_CMD_MASK}")
        wait.futex = f"{kind} {'private' if op & _FUTEX_PRIVATE else 'shared'}"
        wait.futex_addr = args[0]
        wait.timed = args[3] != 0  # a timespec pointer: acquire(timeout=...)
    elif name in ("poll", "ppoll") and len(args) >= 3:
        # poll: timeout in ms (-1: none); ppoll: a timespec pointer (NULL: none)
        wait.timed = _signed(args[2], 32) >= 0 if name == "poll" else args[2] != 0
    elif name in ("select", "pselect6") and len(args) >= 5:
        wait.timed = args[4] != 0
    elif name in ("epoll_wait", "epoll_pwait") and len(args) >= 4:
        wait.timed = _signed(args[3], 32) >= 0
    elif name in _SLEEPS:
        wait.timed = name != "pause"
    return wait


def _signed(value: int, bits: int = 64) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def read_thread(
    pid: int, tid: int, table: dict[int, str] | None = None, full: bool = True
) -> ThreadWait | None:
    """The wait of one thread, or None when it is gone. `full=False` is the monitor's frequent
    look while the tree is quiet: the system call only (a thread in one is asleep in it, "S";
    "running" otherwise), without the state and the wait channel, which no decision needs."""
    base = f"/proc/{pid}/task/{tid}"
    state = "S"
    if full:
        stat = _read(f"{base}/stat")
        if stat is None:
            return None
        state = stat[stat.rindex(b")") + 2 :].split(b" ", 1)[0].decode()
    channel = _read_text(f"{base}/wchan") if full else None
    wait = ThreadWait(tid=tid, state=state, wchan=channel if channel not in (None, "0") else None)
    text = _read_text(f"{base}/syscall")
    if text is None:
        if not full and not os.path.exists(base):
            return None
        wait.readable = False
        return wait
    if not full and text.startswith("running"):
        wait.state = "R"
    wait.syscall, wait.args = parse_syscall(text, syscall_table() if table is None else table)
    return decode(wait)


def read_threads(pid: int, full: bool = True) -> list[ThreadWait]:
    """Every thread of `pid` (empty when the process is gone or /proc is absent)."""
    try:
        tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except (OSError, ValueError):
        return []
    table = syscall_table()
    waits = [read_thread(pid, tid, table, full) for tid in tids]
    return [w for w in waits if w is not None]


def _read(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)


def _read_text(path: str) -> str | None:
    data = _read(path)
    return None if data is None else data.decode("ascii", "replace").strip()


def mapping_of(pid: int, address: int) -> str | None:
    """The shared object holding `address` in `pid`, as "device inode" (the same in every
    process that maps it, whatever the address), from /proc/PID/maps; None if anonymous or
    unreadable."""
    try:
        with open(f"/proc/{pid}/maps", "rb") as maps:
            for line in maps:
                span, _perms, _offset, device, inode = line.split(None, 5)[:5]
                start, _, end = span.partition(b"-")
                if int(start, 16) <= address < int(end, 16):
                    return None if inode == b"0" else f"{device.decode()} {inode.decode()}"
    except (OSError, ValueError):
        return None
    return None


def mapped_objects(pid: int) -> set[str]:
    """Every shared object `pid` maps ("device inode"), from /proc/PID/maps."""
    found = set()
    try:
        with open(f"/proc/{pid}/maps", "rb") as maps:
            for line in maps:
                fields = line.split(None, 5)
                if len(fields) >= 5 and fields[4] != b"0" and fields[1][3:4] == b"s":
                    found.add(f"{fields[3].decode()} {fields[4].decode()}")
    except (OSError, ValueError):
        pass
    return found
