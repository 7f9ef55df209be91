"""`mpdoctor check` output: the static findings, then (with --matrix) one row per start method
column: how the run ended and what was found."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich import box
from rich.console import Console, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from mpdoctor.model import Finding, Outcome
from mpdoctor.render.console import findings_blocks, print_blocks, remediation_blocks
from mpdoctor.render.formatting import outcome_text, signal_name


@dataclass
class MatrixRow:
    """One line of `check`'s start-method matrix."""

    column: str  # fork | spawn | forkserver | windows-like
    outcome: Outcome
    findings: list[Finding] = field(default_factory=list)
    output_tail: list[str] = field(default_factory=list)  # the program's last output lines
    interrupted: bool = False
    # the column's start method was never applied (no process registered the probe: Python
    # before 3.8, -E, -I): the run says nothing about that method
    not_applied: bool = False

    @property
    def ok(self) -> bool:
        if self.not_applied:
            return False
        clean_exit = self.outcome.status == "exited" and self.outcome.exit_code == 0
        return clean_exit and not any(f.severity == "error" for f in self.findings)


_COLUMN_NOTES = {
    "fork": "Linux default up to Python 3.13",
    "spawn": "macOS and Windows default",
    "forkserver": "Linux default from Python 3.14",
    "windows-like": "spawn, fork and forkserver unavailable",
}


def render_check(
    script: str,
    findings: list[Finding],
    rows: list[MatrixRow] | None,
    console: Console,
    paths_under: str | None,
) -> None:
    blocks: list[RenderableType] = [Rule(Text("mpdoctor check", style="bold"), style="dim")]
    blocks += [Text(f"static checks of {script}", style="bold"), Text()]
    blocks += findings_blocks(findings, paths_under, remediation=False)
    every = list(findings)
    if rows is not None:
        blocks += [Text(), Text("start method matrix", style="bold"), _matrix(rows)]
        not_run = [row.column for row in rows if row.not_applied]
        if not_run:
            blocks.append(
                Text(
                    f"{', '.join(not_run)}: not run as asked: the probe that sets the start "
                    "method did not load (Python before 3.8, -E or -I), so the program ran under "
                    "its own default",
                    style="yellow",
                )
            )
        for row in rows:
            if row.not_applied:
                continue
            if not row.ok and not row.findings and row.output_tail:
                line = Text(f"{row.column}: the program's output ends with: ", style="dim")
                line.append(" | ".join(row.output_tail))
                blocks.append(line)
        seen = _by_columns(rows)
        if seen:
            blocks += [Text(), Text("found by the runs", style="bold")]
        for finding, columns in seen:
            blocks += findings_blocks([finding], paths_under, remediation=False)[1:]
            blocks.append(Text(f"  in: {', '.join(columns)}", style="dim"))
            every.append(finding)
    if every:
        blocks += remediation_blocks(every)
    blocks.append(Rule(Text("mpdoctor check", style="bold"), style="dim"))
    print_blocks(blocks, console)


def _by_columns(rows: list[MatrixRow]) -> list[tuple[Finding, list[str]]]:
    """Each finding of the runs once (the first column's wording), with the columns it was in;
    the same finding differs between columns only by pids and counts."""
    out: dict[tuple, tuple[Finding, list[str]]] = {}
    for row in rows:
        for finding in row.findings:
            key = (finding.id, tuple((loc.file, loc.line, loc.role) for loc in finding.locations))
            if key in out:
                out[key][1].append(row.column)
            else:
                out[key] = (finding, [row.column])
    return list(out.values())


def _short_outcome(outcome: Outcome) -> str:
    """ "exit 0 (0.31 s)", "stopped: respawn loop (0.55 s)", "SIGSEGV (0.10 s)"."""
    took = f" ({outcome.duration_s:.2f} s)"
    if outcome.status == "exited":
        return f"exit {outcome.exit_code}{took}"
    if outcome.status == "signaled" and outcome.signal:
        return f"{signal_name(outcome.signal, 'linux')}{took}"
    if outcome.status == "stopped-respawn-loop":
        return f"stopped: respawn loop{took}"
    if outcome.status == "timeout":
        return f"stopped: timeout{took}"
    return outcome_text(outcome, "linux")


def _matrix(rows: list[MatrixRow]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=True)
    table.add_column("column", style="bold", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("outcome", ratio=2, overflow="fold")
    table.add_column("findings", ratio=3, overflow="fold")
    for row in rows:
        if row.not_applied:
            verdict = Text("NOT RUN", style="bold yellow")
        elif row.ok:
            verdict = Text("ok", style="bold green")
        else:
            verdict = Text("FAILS", style="bold red")
        outcome = _short_outcome(row.outcome)
        found = ", ".join(sorted({f.id for f in row.findings})) or "none"
        table.add_row(
            Text(f"{row.column}\n{_COLUMN_NOTES.get(row.column, '')}"),
            verdict,
            Text(outcome),
            Text(found),
        )
    return table
