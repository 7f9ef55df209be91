"""Build Evidence by hand, tersely: what the collectors would have learned about a run."""

from __future__ import annotations

from typing import Any

from mpdoctor.diagnose.evidence import (
    Evidence,
    ExceptionInfo,
    KillEvidence,
    PoolEvidence,
    ProcessEvidence,
    ProcessKey,
    Site,
    WarningEvidence,
)
from mpdoctor.model import Frame

BOOT = 1_700_000_000.0  # create_time of the main process: seconds since the epoch
PY = "/usr/bin/python3"
SCRIPT = "/work/app/app.py"
MAIN_CMDLINE = [PY, SCRIPT]
SPAWN_CMDLINE = [
    PY,
    "-B",
    "-c",
    "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=4, pipe_handle=6)",
    "--multiprocessing-fork",
]
TRACKER_CMDLINE = [PY, "-B", "-c", "from multiprocessing.resource_tracker import main;main(3)"]


def site(line: int, function: str = "<module>", file: str = SCRIPT) -> Site:
    return Site(file=file, line=line, function=function)


def proc(pid: int, ppid: int | None = 100, *, t: float = 0.0, **fields: Any) -> ProcessEvidence:
    """A probed Python process created `t` seconds after the main one (exited 0 unless told)."""
    fields.setdefault("cmdline", list(MAIN_CMDLINE))
    fields.setdefault("exe", PY)
    fields.setdefault("probed", True)
    fields.setdefault("python", "3.11.7")
    fields.setdefault("started_s", t)
    if "exit_code" not in fields and "signal" not in fields and "state" not in fields:
        fields["exit_code"] = 0
    if fields.get("exit_code") is not None or fields.get("signal") is not None:
        fields.setdefault("state", "exited")
        fields.setdefault("ended_s", t + 1.0)
        fields.setdefault("exit_seen_by", "parent-probe")
    return ProcessEvidence(key=ProcessKey(pid, BOOT + t), ppid=ppid, **fields)


def main_proc(**fields: Any) -> ProcessEvidence:
    fields.setdefault("name", "MainProcess")
    fields.setdefault("ended_s", 3.0)
    return proc(100, 1, t=0.0, **fields)


def pool(pool_id: str = "100:1", *, kind: str = "Pool", line: int = 9, **fields: Any):
    fields.setdefault("owner_pid", 100)
    fields.setdefault("size", 2)
    fields.setdefault("start_method", "fork")
    fields.setdefault("created_s", 0.1)
    site_ = fields.pop("site", site(line, "main"))
    return PoolEvidence(pool_id=pool_id, kind=kind, site=site_, **fields)


def kill(sender: int, target: int, sig: int, t_s: float, via: str, line: int | None = None):
    return KillEvidence(
        sender_pid=sender,
        target_pid=target,
        signal=sig,
        t_s=t_s,
        via=via,
        site=site(line, "main") if line else None,
    )


def exception(type_: str, message: str, *frames: tuple[str, int, str]) -> ExceptionInfo:
    frame_list = [Frame(file=f, line=n, function=fn) for f, n, fn in frames]
    lines = ["Traceback (most recent call last):"]
    for f in frame_list:
        lines.append(f'  File "{f.file}", line {f.line}, in {f.function}')
    lines.append(f"{type_}: {message}" if message else type_)
    return ExceptionInfo(
        type=type_, message=message, traceback="\n".join(lines) + "\n", frames=frame_list
    )


def leak_warning(pid: int, message: str, t_s: float = 3.1) -> WarningEvidence:
    return WarningEvidence(pid=pid, t_s=t_s, category="UserWarning", message=message)


def evidence(*procs: ProcessEvidence, **fields: Any) -> Evidence:
    main = next((p.key for p in procs if p.key.pid == 100), None)
    fields.setdefault("main_ended_s", 3.0)
    fields.setdefault("duration_s", 3.2)
    return Evidence(main=main, processes={p.key: p for p in procs}, **fields)
