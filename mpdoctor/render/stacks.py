"""The "threads" section of the console report: what each thread of a stalled tree waited on,
and its stack collapsed to the frames that matter (the program's own, and the library call it
is blocked in). The JSON report keeps every frame."""

from __future__ import annotations

from rich.text import Text

from mpdoctor.diagnose.tracebacks import is_library_at, short_path
from mpdoctor.model import ProcessInfo, ThreadInfo, Wait
from mpdoctor.render.formatting import display_path

_MAX_FRAMES = 6


def threads_block(processes: list[ProcessInfo], paths_under: str | None) -> Text | None:
    shown = [p for p in processes if p.threads]
    if not shown:
        return None
    text = Text("threads", style="bold")
    for proc in shown:
        text.append(f"\n  {proc.role} {proc.pid} {proc.name}", style="bold")
        for thread in proc.threads:
            text.append(f"\n    {thread.name or f'thread {thread.native_id}'}: ")
            text.append(wait_text(thread.wait), style="cyan")
            for line in _frames(thread, paths_under):
                text.append(f"\n      {line}", style="dim")
    return text


def wait_text(wait: Wait | None) -> str:
    """ "join() for pid 123", "pipe-read on pipe:[4711]", "futex (wait private), timed"."""
    if wait is None:
        return "running or not in a system call"
    if wait.kind == "join":
        text = f"join() for pid {wait.on}" if wait.on and wait.on != -1 else "join() for a child"
    elif wait.kind == "futex":
        text = f"lock or condition (futex, {wait.on})" if wait.on else "lock (futex)"
    elif wait.on is not None:
        text = f"{wait.kind} on {wait.on}"
    else:
        text = wait.kind
    return text + (", timed" if wait.timed else "")


def _frames(thread: ThreadInfo, paths_under: str | None) -> list[str]:
    """Most recent call last: the program's frames, and the innermost one (where it blocks)."""
    frames = thread.stack
    if not frames:
        return []
    keep = [i for i in range(len(frames)) if not is_library_at(frames, i)]
    keep = sorted({*keep[-(_MAX_FRAMES - 1) :], len(frames) - 1})
    lines, last = [], -1
    for i in keep:
        if i > last + 1:
            lines.append(f"... {i - last - 1} library frame{'s' if i - last - 1 > 1 else ''}")
        frame = frames[i]
        path = (
            short_path(frame.file)
            if is_library_at(frames, i)
            else display_path(frame.file, paths_under)
        )
        lines.append(f"{path}:{frame.line} in {frame.function}")
        last = i
    return lines
