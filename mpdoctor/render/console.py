"""The console report: header, process tree, findings, remediation, between two "mpdoctor" rules.

`make_console` (from render.terminal) builds the Console it prints on.

Everything is built from `Text` objects, never markup strings, so a command line or an exception
message containing "[red]" prints as itself. Colour comes only from styles: with no colour
system (CI logs, NO_COLOR) the same layout prints as plain text.
"""

from __future__ import annotations

import shlex

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.padding import Padding
from rich.rule import Rule
from rich.segment import Segment
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from mpdoctor.model import Finding, ProcessInfo, Report
from mpdoctor.render.formatting import (
    abnormal,
    age_text,
    display_path,
    display_paths_in,
    exit_text,
    human_bytes,
    lifetime,
    outcome_text,
)
from mpdoctor.render.stacks import threads_block
from mpdoctor.render.terminal import ColorChoice, make_console

__all__ = ["ColorChoice", "make_console", "render_report"]

SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "bold blue"}
_STATE_STYLE = {
    "running": "green",
    "sleeping": "cyan",
    "disk-sleep": "cyan",
    "stopped": "magenta",
    "zombie": "yellow",
    "exited": "dim",
}
_COMMAND_ROLES = {"python", "non-python"}  # not started by multiprocessing: the command says more
_CMDLINE_CHARS = 60


def render_report(report: Report, console: Console, *, paths_under: str | None = None) -> None:
    """Print the whole report on `console`; source files under the directory `paths_under` are
    shown relative to it (the JSON report keeps them absolute)."""
    platform = report.environment.platform
    blocks: list[RenderableType] = [Rule(Text("mpdoctor", style="bold"), style="dim")]
    blocks.append(_header(report))
    if report.processes:
        blocks += [Text(), _process_tree(report.processes, report.findings, platform)]
    threads = threads_block(report.processes, paths_under)
    if threads is not None:
        blocks += [Text(), threads]
    blocks.append(Text())
    blocks += findings_blocks(report.findings, paths_under)
    blocks.append(Rule(Text("mpdoctor", style="bold"), style="dim"))
    print_blocks(blocks, console)


def findings_blocks(
    findings: list[Finding], paths_under: str | None, remediation: bool = True
) -> list[RenderableType]:
    """The findings, each in full, then the remediation table (or "no findings")."""
    if not findings:
        return [Text("no findings", style="bold green")]
    blocks: list[RenderableType] = [_findings_heading(findings)]
    for finding in findings:
        blocks += [Text(), _finding(finding, paths_under)]
    if remediation:
        blocks += remediation_blocks(findings)
    return blocks


def remediation_blocks(findings: list[Finding]) -> list[RenderableType]:
    return [Text(), Text("remediation", style="bold"), _remediation(findings)]


def print_blocks(blocks: list[RenderableType], console: Console) -> None:
    for block in blocks:
        console.print(_Trimmed(block), crop=False)


class _Trimmed:
    """Render without the trailing spaces rich pads lines with: they are noise in a CI log
    and in copied text."""

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # split_lines, not render_lines: lines marked no-wrap (paths, URLs) must not be cropped.
        for line in Segment.split_lines(console.render(self.renderable, options)):
            while line and not line[-1].control and not line[-1].text.rstrip():
                line.pop()
            if line and not line[-1].control:
                last = line.pop()
                line.append(Segment(last.text.rstrip(), last.style))
            yield from line
            yield Segment.line()


def _join(args: list[str]) -> str:
    """A command line as a user would type it; quotes only where the shell needs them for
    spaces and quotes (not for `***`)."""
    return " ".join(
        shlex.quote(arg) if not arg or any(c in arg for c in " \t\n'\"\\") else arg for arg in args
    )


def _header(report: Report) -> Table:
    env = report.environment
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("command", Text(_join(report.command)))
    python = f" (Python {env.python})" if env.python else ""
    if env.interpreter or env.python:
        grid.add_row("interpreter", Text(f"{env.interpreter or '?'}{python}"))
    cpus = f", {env.cpu_count} CPUs" if env.cpu_count else ""
    grid.add_row("platform", Text(f"{env.platform}{cpus}"))
    if env.start_method:
        grid.add_row("start method", Text(env.start_method))
    outcome = Text(outcome_text(report.outcome, env.platform))
    if report.outcome.status != "exited" or report.outcome.exit_code:
        outcome.stylize("bold red")
    if report.outcome.whose == "mpdoctor":
        outcome.append(" (exit status 124)")
    grid.add_row("outcome", outcome)
    for note in report.notes:
        grid.add_row("note", Text(note))
    return grid


def process_tree(report: Report, new: set[int] | frozenset[int] = frozenset()) -> Tree:
    """The report's process tree alone (`inspect --watch`); pids in `new` are marked."""
    return _process_tree(report.processes, report.findings, report.environment.platform, new)


def _process_tree(
    processes: list[ProcessInfo],
    findings: list[Finding],
    platform: str,
    new: set[int] | frozenset[int] = frozenset(),
) -> Tree:
    named: dict[int, list[Finding]] = {}
    for finding in findings:
        for pid in finding.pids:
            named.setdefault(pid, []).append(finding)
    children = _children_by_parent(processes)
    tree = Tree(Text("processes", style="bold"), guide_style="dim")
    pending: list[tuple[Tree, list[ProcessInfo]]] = [(tree, children.get(None, []))]
    while pending:
        node, procs = pending.pop()
        for run in _runs(procs, children, named, new, platform):
            if len(run) > FOLD_AT:
                node.add(_process_line(run[0], platform, []))
                node.add(_process_line(run[1], platform, []))
                node.add(_fold_line(run[2:-1], platform))
                run = run[-1:]
            for proc in run:
                line = _process_line(proc, platform, named.get(proc.pid, []))
                if proc.pid in new:
                    line.append(" new", style="bold green")
                pending.append((node.add(line), children.get(id(proc), [])))
    return tree


# A run of more than this many alike siblings prints as its first two, one line counting the
# rest, and its last: a Pool with maxtasksperchild=1 can start thousands of workers, a CI log
# wants the ones that differ. The JSON report lists every process.
FOLD_AT = 8


def _children_by_parent(processes: list[ProcessInfo]) -> dict[int | None, list[ProcessInfo]]:
    """Each process's children in listing order, keyed by id() of the parent's ProcessInfo
    (None: the roots). A parent is the latest process listed before with pid == ppid created no
    later (the report lists parents before children; a reused pid's later holder is the one
    created before)."""
    by_pid: dict[int, list[ProcessInfo]] = {}
    children: dict[int | None, list[ProcessInfo]] = {}
    for proc in processes:
        parent = next(
            (c for c in reversed(by_pid.get(proc.ppid, ())) if c.create_time <= proc.create_time),
            None,
        )
        children.setdefault(None if parent is None else id(parent), []).append(proc)
        by_pid.setdefault(proc.pid, []).append(proc)
    return children


def _runs(
    procs: list[ProcessInfo],
    children: dict[int | None, list[ProcessInfo]],
    named: dict[int, list[Finding]],
    new: set[int] | frozenset[int],
    platform: str,
) -> list[list[ProcessInfo]]:
    """`procs` cut into runs of consecutive alike siblings: the same role and state, no
    finding, no children, not new. Any other process is a run of its own."""
    runs: list[list[ProcessInfo]] = []
    last_key: tuple[str, str] | None = None
    for proc in procs:
        plain = proc.pid not in named and proc.pid not in new and id(proc) not in children
        key = (proc.role, exit_text(proc, platform)) if plain else None
        if key is not None and key == last_key:
            runs[-1].append(proc)
        else:
            runs.append([proc])
        last_key = key
    return runs


def _fold_line(folded: list[ProcessInfo], platform: str) -> Text:
    """ "... 295 more pool-worker processes, each exited 0 (ForkPoolWorker-3 ...
    ForkPoolWorker-297, pids 1203 to 1497)" for the middle of a long run."""
    first, last = folded[0], folded[-1]
    line = Text()
    line.append(f"... {len(folded)} more ")
    line.append(first.role, style="bold")
    line.append(" processes, each ")
    state_style = "bold red" if abnormal(first) else _STATE_STYLE.get(first.state, "")
    line.append(exit_text(first, platform), style=state_style)
    line.append(f" ({first.name} ... {last.name}, pids {first.pid} to {last.pid})", style="dim")
    return line


def _process_line(proc: ProcessInfo, platform: str, findings: list[Finding]) -> Text:
    line = Text()
    line.append(proc.role, style="bold")
    line.append(f" {proc.pid} ")
    line.append(proc.name)
    if proc.role in _COMMAND_ROLES and proc.cmdline:
        command = _join(proc.cmdline)
        if len(command) > _CMDLINE_CHARS:
            command = command[: _CMDLINE_CHARS - 3] + "..."
        line.append(f" ({command})", style="dim")
    line.append(": ")
    state_style = "bold red" if abnormal(proc) else _STATE_STYLE.get(proc.state, "")
    line.append(exit_text(proc, platform), style=state_style)
    details = _live_details(proc) if proc.age_s is not None else _run_details(proc)
    if details:
        line.append(", " + ", ".join(details), style="dim")
    for finding in findings:  # ties the tree to the findings below
        line.append(f" [{finding.id}]", style=SEVERITY_STYLE.get(finding.severity, "bold"))
    return line


def _run_details(proc: ProcessInfo) -> list[str]:
    details = []
    if proc.cpu_s is not None:
        details.append(f"cpu {proc.cpu_s:.2f} s")
    if proc.peak_rss_bytes is not None:
        details.append(f"peak {human_bytes(proc.peak_rss_bytes)}")
    if (span := lifetime(proc)) is not None:
        details.append(span)
    return details


def _live_details(proc: ProcessInfo) -> list[str]:
    """`mpdoctor inspect`: what the process does now."""
    details = []
    if proc.cpu_percent is not None:
        details.append(f"cpu {proc.cpu_percent:.0f}%")
    if proc.rss_bytes is not None:
        details.append(f"rss {human_bytes(proc.rss_bytes)}")
    if proc.num_threads is not None:
        details.append(f"{proc.num_threads} thread{'s' if proc.num_threads != 1 else ''}")
    if proc.age_s is not None:
        details.append(f"age {age_text(proc.age_s)}")
    return details


def _findings_heading(findings: list[Finding]) -> Text:
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    parts = [
        f"{n} {severity}{'s' if n != 1 else ''}"
        for severity in ("error", "warning", "info")
        if (n := counts.get(severity))
    ]
    return Text(f"findings: {', '.join(parts)}", style="bold")


def _finding(finding: Finding, paths_under: str | None) -> RenderableType:
    head = Text()
    head.append(finding.severity.upper(), style=SEVERITY_STYLE.get(finding.severity, "bold"))
    head.append(" ")
    head.append(finding.id, style="bold")
    head.append(f": {finding.title}")
    head.append(f" ({finding.certainty})", style="dim")
    message = display_paths_in(finding.message, paths_under)
    parts: list[RenderableType] = [head, _indented(Text(message), 2)]
    for loc in finding.locations:
        pid = f", pid {loc.pid}" if loc.pid is not None else ""
        where = _unbroken("  at ")
        where.append(f"{display_path(loc.file, paths_under)}:{loc.line}", style="bold")
        where.append(f" ({loc.role}{pid})", style="dim")
        parts.append(where)
    if finding.evidence:
        parts.append(Text("  evidence:", style="dim"))
        parts += [_evidence_line(display_paths_in(line, paths_under)) for line in finding.evidence]
    if finding.hint is not None and finding.hint.docs:
        parts.append(_unbroken(f"  docs: {finding.hint.docs}", style="dim"))
    return Group(*parts)


def _evidence_line(line: str) -> RenderableType:
    """An evidence line, wrapped under its indent; a traceback (several lines) is never
    wrapped: a frame's `File "...", line N, in f` stays one line, as Python printed it."""
    if "\n" not in line:
        return _indented(Text(line, style="dim"), 4)
    return _unbroken("\n".join("    " + part for part in line.split("\n")), style="dim")


def _indented(text: Text, by: int) -> Padding:
    return Padding(text, (0, 0, 0, by))


def _unbroken(text: str, style: str = "") -> Text:
    """A line never wrapped nor cropped: file:line and URLs stay whole, so terminals keep them
    clickable and logs searchable."""
    return Text(text, style=style, no_wrap=True, overflow="ignore")


def _remediation(findings: list[Finding]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=True)
    table.add_column("finding", style="bold", no_wrap=True)
    table.add_column("what to change", ratio=3, overflow="fold")
    table.add_column("why", ratio=2, overflow="fold")
    seen: set[str] = set()
    for finding in findings:
        if finding.hint is None or finding.id in seen:
            continue
        seen.add(finding.id)
        table.add_row(Text(finding.id), Text(finding.hint.fix), Text(finding.hint.why))
    return table
