"""Read the probe's JSONL event files into typed records.

One file per process, `events/<pid>-<start ticks>.jsonl`, written only by that process with one
os.write per line. A SIGKILL can still leave a torn last line (a full disk, a write cut short):
lines that do not parse are skipped, as are unknown kinds and keys (newer probes add them).

The records are plain (not frozen) dataclasses: nothing changes them after parsing, and a frozen
dataclass costs twice as much to create, which every `mpdoctor run` pays before its report.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpdoctor.diagnose.evidence import Defined, RaisedClass, Site, UnpicklableMember
from mpdoctor.model import Frame


@dataclass
class Event:
    """A line of a probe's event file: its kind, when, and which process wrote it."""

    kind: str
    t: float  # time.time() in the writing process
    pid: int


@dataclass
class StartEvent(Event):
    """A probed process started (a forked child: at its first event)."""

    ppid: int | None
    ticks: int | None  # /proc/self/stat field 22; None off Linux
    argv: list[str]
    exe: str | None
    py: str | None
    forked: bool
    ident: int | None = None  # the writing thread (the main thread but in a rare fork child)
    tid: int | None = None
    stack_fd: int | None = None  # faulthandler's descriptor for the stack signal; None: off
    stack_signal: int | None = None
    threads_at_fork: int | None = None  # a forked child: threads its parent had when it forked


@dataclass
class ThreadEvent(Event):
    """A thread started (or was running when multiprocessing was imported)."""

    ident: int  # threading.get_ident(): what faulthandler prints
    tid: int  # native id: /proc/PID/task/TID
    name: str | None


@dataclass
class ForkThread:
    """A thread that ran in a process at the moment it forked."""

    ident: int | None
    name: str | None
    frames: list[Frame]  # innermost first, at the moment of the fork


@dataclass
class ForkThreadsEvent(Event):
    """The process forked while other threads ran (multiprocessing's own left out)."""

    total: int | None  # every thread of the process, native ones included (/proc)
    threads: list[ForkThread]


@dataclass
class JoinEvent(Event):
    """A thread called join() on a child (Process.join looked up its Popen's wait)."""

    child: int
    ident: int | None  # the joining thread


@dataclass
class StacksOffEvent(Event):
    """The program installed its own handler for the stack signal: never send it again."""

    signal: int | None


@dataclass
class MpEvent(Event):
    """multiprocessing was imported: the start method then, and the process's role."""

    method: str | None
    default_method: str | None
    role: str | None = None  # the probe's view: spawn-child | forkserver | resource-tracker


@dataclass
class BootstrapEvent(Event):
    """A multiprocessing child began its Process (`_bootstrap`)."""

    name: str | None
    method: str | None
    parent_pid: int | None
    daemon: bool | None


@dataclass
class ChildStartEvent(Event):
    """Process.start() succeeded: the child, what kind, where in the user's code."""

    child: int
    name: str | None
    method: str | None
    daemon: bool | None
    child_kind: str | None  # process | pool-worker | executor-worker | manager
    pool: str | None
    target: str | None
    site: Site | None


@dataclass
class ChildExitEvent(Event):
    """The parent reaped a child (join, is_alive, ...): its exit code."""

    child: int
    exitcode: int  # negative: killed by that signal


@dataclass
class KillEvent(Event):
    """os.kill or os.killpg: who sent which signal, through what, from where."""

    target: int  # a pid, or a process group id when `group`
    sig: int
    via: str
    site: Site | None
    group: bool = False  # os.killpg


@dataclass
class PoolEvent(Event):
    """A Pool or ProcessPoolExecutor was made."""

    pool: str
    pool_kind: str
    size: int | None
    method: str | None
    site: Site | None


@dataclass
class PoolEndEvent(Event):
    """A pool ended, and how: close, terminate, shutdown, broken, exit or gc."""

    pool: str
    how: str | None


@dataclass
class ExceptionEvent(Event):
    """An exception escaped a process target, a pool task or the program."""

    type: str  # as Python prints it: "ValueError", "mymod.MyError" (module shown unless builtin)
    message: str
    traceback: str
    frames: list[Frame] = field(default_factory=list)
    # target (escaped a Process target) | uncaught (the main thread's) | task (a pool or
    # executor task raised it; the worker sent it back)
    where: str = "target"


@dataclass
class ManagerEndEvent(Event):
    """A Manager was shut down: by the program's line, or by the exit handler."""

    manager: int | None  # the manager's server process
    site: Site | None  # the program's line that shut it down (the end of its with block)
    exiting: bool  # shut down by multiprocessing's exit handler


@dataclass
class UnpicklableEvent(Event):
    """Pickling failed: the object's path to the part that cannot be pickled."""

    what: str
    error: str
    members: list[UnpicklableMember] = field(default_factory=list)
    truncated: bool = False
    api: str | None = None
    site: Site | None = None
    awaited: bool = False
    function: str | None = None
    raised: RaisedClass | None = None
    dropped: bool = False


@dataclass
class WarningEvent(Event):
    """A warning a probed process printed (the resource tracker's leak warnings)."""

    category: str
    message: str
    filename: str | None
    lineno: int | None


@dataclass
class ResourceEvent(Event):
    """A named resource registered with, or unregistered from, the resource tracker; or
    (`create`) the name of a semaphore about to be created."""

    op: str  # register | unregister | create
    name: str
    rtype: str  # semaphore | shared_memory | ...
    site: Site | None


@dataclass
class ProcessEvents:
    """All events of one process's file; (pid, ticks) from the file name is its identity."""

    pid: int
    ticks: int | None
    path: Path
    events: list[Event] = field(default_factory=list)

    def first(self, cls: type[Event]) -> Any:
        return next((e for e in self.events if isinstance(e, cls)), None)

    def last(self, cls: type[Event]) -> Any:
        return next((e for e in reversed(self.events) if isinstance(e, cls)), None)

    def of(self, cls: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]


class _Bad(Exception):
    """A line whose required keys are missing or of the wrong type: skipped."""


def _int(d: dict[str, Any], key: str, required: bool = False) -> int | None:
    value = d.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        if required:
            raise _Bad(key)
        return None
    return value


def _str(d: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = d.get(key)
    if not isinstance(value, str):
        if required:
            raise _Bad(key)
        return None
    return value


def _bool(d: dict[str, Any], key: str) -> bool | None:
    value = d.get(key)
    return value if isinstance(value, bool) else None


def _site(value: Any) -> Site | None:
    frame = _frame(value)
    return Site(frame.file, frame.line, frame.function) if frame else None


def _frame(value: Any) -> Frame | None:
    if not isinstance(value, dict):
        return None
    file, line, function = value.get("file"), value.get("line"), value.get("function")
    if not isinstance(file, str) or not isinstance(line, int) or isinstance(line, bool):
        return None
    return Frame(file, line, function if isinstance(function, str) else "?")


def _start(d: dict[str, Any], base: dict[str, Any]) -> StartEvent:
    argv, stacks = d.get("argv"), d.get("stacks")
    return StartEvent(
        **base,
        ppid=_int(d, "ppid"),
        ticks=_int(d, "ticks"),
        argv=[a for a in argv if isinstance(a, str)] if isinstance(argv, list) else [],
        exe=_str(d, "exe"),
        py=_str(d, "py"),
        forked=bool(d.get("forked")),
        ident=_int(d, "ident"),
        tid=_int(d, "tid"),
        stack_fd=_int(stacks, "fd") if isinstance(stacks, dict) else None,
        stack_signal=_int(stacks, "signal") if isinstance(stacks, dict) else None,
        threads_at_fork=_int(d, "threads"),
    )


def _thread(d: dict[str, Any], base: dict[str, Any]) -> ThreadEvent:
    return ThreadEvent(
        **base,
        ident=_int(d, "ident", required=True),
        tid=_int(d, "tid", required=True),
        name=_str(d, "name"),
    )


def _fork_threads(d: dict[str, Any], base: dict[str, Any]) -> ForkThreadsEvent:
    threads = []
    for item in d.get("threads") or []:
        if isinstance(item, dict):
            frames = [f for f in map(_frame, item.get("stack") or []) if f is not None]
            threads.append(ForkThread(_int(item, "ident"), _str(item, "name"), frames))
    return ForkThreadsEvent(**base, total=_int(d, "total"), threads=threads)


def _join(d: dict[str, Any], base: dict[str, Any]) -> JoinEvent:
    return JoinEvent(**base, child=_int(d, "child", required=True), ident=_int(d, "ident"))


def _stacks_off(d: dict[str, Any], base: dict[str, Any]) -> StacksOffEvent:
    return StacksOffEvent(**base, signal=_int(d, "signal"))


def _mp(d: dict[str, Any], base: dict[str, Any]) -> MpEvent:
    return MpEvent(
        **base,
        method=_str(d, "method"),
        default_method=_str(d, "default_method"),
        role=_str(d, "role"),
    )


def _bootstrap(d: dict[str, Any], base: dict[str, Any]) -> BootstrapEvent:
    return BootstrapEvent(
        **base,
        name=_str(d, "name"),
        method=_str(d, "method"),
        parent_pid=_int(d, "parent_pid"),
        daemon=_bool(d, "daemon"),
    )


def _child_start(d: dict[str, Any], base: dict[str, Any]) -> ChildStartEvent:
    return ChildStartEvent(
        **base,
        child=_int(d, "child", required=True),  # type: ignore[arg-type]
        name=_str(d, "name"),
        method=_str(d, "method"),
        daemon=_bool(d, "daemon"),
        child_kind=_str(d, "kind"),
        pool=_str(d, "pool"),
        target=_str(d, "target"),
        site=_site(d.get("site")),
    )


def _child_exit(d: dict[str, Any], base: dict[str, Any]) -> ChildExitEvent:
    return ChildExitEvent(
        **base,
        child=_int(d, "child", required=True),  # type: ignore[arg-type]
        exitcode=_int(d, "exitcode", required=True),  # type: ignore[arg-type]
    )


def _kill(d: dict[str, Any], base: dict[str, Any]) -> KillEvent:
    return KillEvent(
        **base,
        target=_int(d, "target", required=True),  # type: ignore[arg-type]
        sig=_int(d, "sig", required=True),  # type: ignore[arg-type]
        via=_str(d, "via") or "user",
        site=_site(d.get("site")),
        group=d.get("group") is True,
    )


def _pool(d: dict[str, Any], base: dict[str, Any]) -> PoolEvent:
    return PoolEvent(
        **base,
        pool=_str(d, "pool", required=True),  # type: ignore[arg-type]
        pool_kind=_str(d, "kind") or "Pool",
        size=_int(d, "size"),
        method=_str(d, "method"),
        site=_site(d.get("site")),
    )


def _pool_end(d: dict[str, Any], base: dict[str, Any]) -> PoolEndEvent:
    return PoolEndEvent(**base, pool=_str(d, "pool", required=True), how=_str(d, "how"))  # type: ignore[arg-type]


def _exception(d: dict[str, Any], base: dict[str, Any]) -> ExceptionEvent:
    frames = d.get("frames")
    qualname = _str(d, "type") or "Exception"
    module = _str(d, "module")
    return ExceptionEvent(
        **base,
        # traceback prints the module for all but builtins and __main__: match that text.
        type=qualname if module in (None, "builtins", "__main__") else f"{module}.{qualname}",
        message=_str(d, "message") or "",
        traceback=_str(d, "traceback") or "",
        frames=[f for f in map(_frame, frames) if f] if isinstance(frames, list) else [],
        where=d["where"] if d.get("where") in ("uncaught", "task", "initializer") else "target",
    )


def _defined(value: Any) -> Defined | None:
    if not isinstance(value, dict) or not isinstance(value.get("file"), str):
        return None
    line = value.get("line")
    return Defined(value["file"], line if isinstance(line, int) and line > 0 else None)


def _member(value: Any) -> UnpicklableMember | None:
    if not isinstance(value, dict) or not isinstance(value.get("path"), str):
        return None
    kind = "callable" if value.get("kind") == "callable" else "object"
    return UnpicklableMember(
        path=value["path"],
        type=_str(value, "type") or "?",
        reason=_str(value, "reason") or "",
        kind=kind,
        name=_str(value, "name"),
        defined=_defined(value.get("defined")),
        instance=value.get("instance") is True,
    )


def _raised(value: Any) -> RaisedClass | None:
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        return None
    init = value.get("init") if isinstance(value.get("init"), dict) else {}
    return RaisedClass(
        type=value["type"],
        module=_str(value, "module"),
        defined=_defined(value.get("defined")),
        init=_str(init, "text"),
        init_at=_defined(init),
    )


def _manager_end(d: dict[str, Any], base: dict[str, Any]) -> ManagerEndEvent:
    return ManagerEndEvent(
        **base,
        manager=_int(d, "manager"),
        site=_site(d.get("site")),
        exiting=d.get("exiting") is True,
    )


def _unpicklable(d: dict[str, Any], base: dict[str, Any]) -> UnpicklableEvent:
    members = d.get("members")
    return UnpicklableEvent(
        **base,
        what=_str(d, "what", required=True),  # type: ignore[arg-type]
        error=_str(d, "error") or "",
        members=[m for m in map(_member, members) if m] if isinstance(members, list) else [],
        truncated=d.get("truncated") is True,
        api=_str(d, "api"),
        site=_site(d.get("site")),
        awaited=d.get("awaited") is True,
        function=_str(d, "function"),
        raised=_raised(d.get("exception")),
        dropped=d.get("dropped") is True,
    )


def _warning(d: dict[str, Any], base: dict[str, Any]) -> WarningEvent:
    return WarningEvent(
        **base,
        category=_str(d, "category") or "Warning",
        message=_str(d, "message") or "",
        filename=_str(d, "filename"),
        lineno=_int(d, "lineno"),
    )


def _resource(d: dict[str, Any], base: dict[str, Any]) -> ResourceEvent:
    op = _str(d, "op", required=True)
    if op not in ("register", "unregister", "create"):
        raise _Bad(op)
    return ResourceEvent(
        **base,
        op=op,
        name=_str(d, "name", required=True) or "",
        rtype=_str(d, "rtype") or "",
        site=_site(d.get("site")),
    )


_PARSERS = {
    "start": _start,
    "thread": _thread,
    "stacks-off": _stacks_off,
    "fork-threads": _fork_threads,
    "join": _join,
    "mp": _mp,
    "bootstrap": _bootstrap,
    "child-start": _child_start,
    "child-exit": _child_exit,
    "kill": _kill,
    "pool": _pool,
    "pool-end": _pool_end,
    "exception": _exception,
    "warning": _warning,
    "resource": _resource,
    "unpicklable": _unpicklable,
    "manager-end": _manager_end,
}


def parse_line(line: bytes | str, default_pid: int) -> Event | None:
    """One event, or None for a torn, malformed or unknown line."""
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    parser = _PARSERS.get(data.get("e"))  # type: ignore[arg-type]
    if parser is None:
        return None
    t = data.get("t")
    pid = _int(data, "pid")
    base = {
        "kind": data["e"],
        "t": float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) else 0.0,
        "pid": pid if pid is not None else default_pid,
    }
    try:
        return parser(data, base)
    except _Bad:
        return None


def parse_file_name(name: str) -> tuple[int, int | None] | None:
    """`<pid>-<ticks>.jsonl` -> (pid, ticks); ticks may be absent off Linux (`<pid>-x`)."""
    if not name.endswith(".jsonl"):
        return None
    pid_text, _, ticks_text = name[: -len(".jsonl")].partition("-")
    if not pid_text.isdigit():
        return None
    return int(pid_text), int(ticks_text) if ticks_text.isdigit() else None


def read_file(path: Path) -> ProcessEvents | None:
    ident = parse_file_name(path.name)
    if ident is None:
        return None
    pid, ticks = ident
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    stream = ProcessEvents(pid, ticks, path)
    # A torn last line (no newline) does not parse and is skipped like any malformed line;
    # one cut exactly before its newline is complete JSON and is kept.
    for line in raw.split(b"\n"):
        if line.strip():
            event = parse_line(line, pid)
            if event is not None:
                stream.events.append(event)
    return stream


def read_events(events_dir: Path | str) -> list[ProcessEvents]:
    """Every process's events, in file-name order; an unreadable directory reads as none."""
    try:
        names = sorted(os.listdir(events_dir))
    except OSError:
        return []
    streams = []
    for name in names:
        stream = read_file(Path(events_dir) / name)
        if stream is not None:
            streams.append(stream)
    return streams
