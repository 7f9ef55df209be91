"""Words and numbers as the console shows them: outcomes, exit statuses, sizes, times."""

from __future__ import annotations

import os
import re

from mpdoctor.diagnose.signals import signal_name
from mpdoctor.diagnose.wording import human_bytes
from mpdoctor.model import Outcome, ProcessInfo

__all__ = [
    "abnormal",
    "display_path",
    "display_paths_in",
    "exit_text",
    "human_bytes",
    "lifetime",
    "outcome_text",
    "seconds",
]


def display_path(file: str, base: str | None) -> str:
    """`file` relative to `base` when it lies under it (as pytest shows paths): short enough for
    a narrow terminal, and still resolved by editors and terminals from the directory the user is
    in. Anything outside `base` stays absolute, never `../../..`, and so does everything when
    `base` is the root."""
    if base is None or not os.path.isabs(file) or os.path.dirname(base) == base:
        return file
    try:
        relative = os.path.relpath(file, base)
    except ValueError:  # another drive on Windows
        return file
    return file if relative.startswith(os.pardir) else relative


def display_paths_in(text: str, base: str | None) -> str:
    """`text` with every absolute path under `base` shown as `display_path` shows it, so a
    message names a file the way the location lines under it do."""
    if base is None or os.path.dirname(base) == base:
        return text
    prefix = os.path.join(base, "")
    # only where a path starts: not inside a longer path that merely contains `base`
    return re.sub(r"(?<![\w/.~-])" + re.escape(prefix), "", text)


def seconds(t: float) -> str:
    return f"{t:.2f} s"


def age_text(t: float) -> str:
    """ "0.4 s", "42 s", "3m05s", "2h03m", "3d04h": how long a live process has run."""
    if t < 10:
        return f"{t:.1f} s"
    if t < 60:
        return f"{t:.0f} s"
    minutes, secs = divmod(int(t), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def outcome_text(outcome: Outcome, platform: str) -> str:
    """ "exited with code 1 after 2.31 s", "killed by SIGKILL after 0.52 s"..."""
    after = f" after {seconds(outcome.duration_s)}"
    status = outcome.status
    if status == "exited":
        code = outcome.exit_code if outcome.exit_code is not None else "?"
        return f"exited with code {code}{after}"
    if status == "signaled":
        name = signal_name(outcome.signal, platform) if outcome.signal else "a signal"
        return f"killed by {name}{after}"
    if status == "timeout":
        return f"stopped by mpdoctor: timeout{after}"
    if status == "deadlock-stopped":
        return f"stopped by mpdoctor: deadlock{after}"
    if status == "stopped-respawn-loop":
        return f"stopped by mpdoctor: respawn loop{after}"
    if status == "interrupted":
        return f"interrupted{after}"
    if status == "not-started":
        return "not started"
    if status == "running":
        return f"still running at {seconds(outcome.duration_s)} (reported while it runs)"
    return f"{status}{after}"


def exit_text(proc: ProcessInfo, platform: str) -> str:
    """The state column of the process tree: "exited 0", "killed by SIGSEGV", "sleeping"."""
    if proc.signal:
        text = f"killed by {signal_name(proc.signal, platform)}"
    elif proc.exit_code is not None:
        text = f"exited {proc.exit_code}"
    else:
        return proc.state
    return f"zombie, {text}" if proc.state == "zombie" else text


def abnormal(proc: ProcessInfo) -> bool:
    return bool(proc.signal) or bool(proc.exit_code)


def lifetime(proc: ProcessInfo) -> str | None:
    """ "0.05-1.30 s" from launch; "from 0.05 s" while alive; None when unknown."""
    if proc.started_s is None and proc.ended_s is None:
        return None
    start = f"{proc.started_s:.2f}" if proc.started_s is not None else "?"
    if proc.ended_s is None:
        return f"from {start} s"
    return f"{start}-{proc.ended_s:.2f} s"
