"""`mpdoctor inspect --watch`: one refresh of the live tree, with the processes that appeared
since the last refresh marked `new` and those that went away listed as `gone` (once).

The renderer only compares what two reports say; the findings are the rules'.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.console import Group, RenderableType
from rich.text import Text

from mpdoctor.model import ProcessInfo, Report
from mpdoctor.render.console import SEVERITY_STYLE, process_tree


@dataclass
class WatchState:
    """What the previous refresh showed: (pid, create_time) -> process."""

    shown: dict[tuple[int, float], ProcessInfo] = field(default_factory=dict)
    refreshes: int = 0


def watch_view(state: WatchState, report: Report | None, pid: int) -> RenderableType:
    """One refresh; `report` None: the root is gone (the last refresh)."""
    state.refreshes += 1
    stamp = time.strftime("%H:%M:%S")
    if report is None:
        line = Text(f"mpdoctor inspect {pid} at {stamp}: ", style="bold")
        line.append(f"pid {pid} exited", style="bold red")
        return line
    now = {(p.pid, p.create_time): p for p in report.processes}
    new = {key[0] for key in now if key not in state.shown} if state.refreshes > 1 else set()
    gone = [p for key, p in state.shown.items() if key not in now]
    state.shown = now
    head = Text(f"mpdoctor inspect {pid} at {stamp}", style="bold")
    head.append(f"  {len(report.processes)} processes", style="dim")
    if new:
        head.append(f", {len(new)} new", style="green")
    if gone:
        head.append(f", {len(gone)} gone", style="yellow")
    parts: list[RenderableType] = [head, process_tree(report, new)]
    for proc in gone:
        parts.append(Text(f"  gone: {proc.role} {proc.pid} {proc.name}", style="yellow"))
    for finding in report.findings:
        line = Text(f"{finding.severity} ", style=SEVERITY_STYLE.get(finding.severity, "bold"))
        line.append(f"[{finding.id}] ", style="bold")
        line.append(finding.title)
        parts.append(line)
    if not report.findings:
        parts.append(Text("no findings", style="bold green"))
    return Group(*parts, Text())
