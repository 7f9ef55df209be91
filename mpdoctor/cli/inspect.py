"""`mpdoctor inspect PID`: diagnose a live process tree that mpdoctor did not start.

The report is the product: it goes to stdout (text, or JSON with `--format json`); errors go to
stderr as one `mpdoctor: ...` line (cli/main.py). Nothing of the target is changed: stacks come
from the probe (only processes that registered it are signalled) or from py-spy (read-only).
"""

from __future__ import annotations

import os
import sys
import time
from enum import Enum
from pathlib import Path

import typer

from mpdoctor.cli.output import ColorChoice, print_report
from mpdoctor.errors import UsageError

EPILOG = (
    "Exit status: 0 inspected, no error-level finding; 1 inspected, an error-level finding "
    "(a proven hang, a crashed child...); 2 bad input (not a pid, no such process, a zombie, "
    "a kernel thread, /proc hidden) or usage error; 3 the process exited during the "
    "inspection; 125 mpdoctor failed. --watch ends with 0 on Ctrl-C or when the process exits."
)
COMMAND_SETTINGS = {"epilog": EPILOG}
WATCH_DEFAULT_S = 2.0


class Format(str, Enum):
    text = "text"
    json = "json"


def inspect(
    pid: str = typer.Argument(..., metavar="PID", help="The root of the tree to inspect."),
    report: Path | None = typer.Option(
        None, "--report", help="Also write the JSON report (schema v1) to this file."
    ),
    fmt: Format = typer.Option(
        Format.text, "--format", help="text (rich, on stdout) or json (the report, on stdout)."
    ),
    color: ColorChoice = typer.Option(ColorChoice.auto, "--color", help="auto, always or never."),
    interval: float = typer.Option(
        0.1,
        "--interval",
        min=0.01,
        max=60.0,
        help="Seconds between the two looks: CPU% and progress are measured over it.",
    ),
    max_processes: int = typer.Option(
        256, "--max-processes", min=1, help="Inspect at most this many processes of the tree."
    ),
    stacks: bool = typer.Option(
        True, "--stacks/--no-stacks", help="Take Python stacks (probe, else py-spy)."
    ),
    watch: float | None = typer.Option(
        None,
        "--watch",
        metavar="[SECONDS]",
        min=0.1,
        help=(
            f"Refresh every SECONDS (default {WATCH_DEFAULT_S:g}) until Ctrl-C: live on a "
            "terminal, one snapshot per refresh otherwise."
        ),
    ),
) -> int:
    """Diagnose a running process tree (roles, waits, stacks, findings) without restarting it."""
    from mpdoctor.collect.inspect import InspectOptions

    target = parse_pid(pid)
    options = InspectOptions(interval_s=interval, max_processes=max_processes, stacks=stacks)
    if watch is not None:
        return _watch(target, watch, options, color)
    built, _inspection = inspect_report(target, options)
    if report is not None:
        from mpdoctor.render.json_report import write_report

        write_report(built, report)
    if fmt is Format.json:
        from mpdoctor.render.json_report import dumps

        _write(dumps(built))
    else:
        print_report(built, color, stream=sys.stdout)
    return 1 if any(f.severity == "error" for f in built.findings) else 0


def prepare_argv(args: list[str]) -> list[str]:
    """`--watch` takes an optional value (`--watch`, `--watch 5`, `--watch=5`), and a
    negative pid must reach parse_pid rather than read as an option."""
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--watch":
            following = args[i + 1] if i + 1 < len(args) else ""
            if not _is_number(following):
                out.append(f"--watch={WATCH_DEFAULT_S:g}")
                continue
        if len(arg) > 1 and arg[0] == "-" and arg[1:].isdigit() and not _takes_value(out):
            out += ["--", arg]  # a pid such as -5: an argument, refused by parse_pid
            continue
        out.append(arg)
    return out


def _takes_value(before: list[str]) -> bool:
    return bool(before) and before[-1] in ("--interval", "--max-processes", "--watch")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_pid(text: str) -> int:
    value = text.strip()
    if not value.lstrip("-").isdigit():
        raise UsageError(f"{text!r} is not a process id (a positive number)")
    number = int(value)
    if number <= 0:
        raise UsageError(f"{number} is not a process id (a positive number)")
    return number


def inspect_report(pid: int, options):
    """Inspect, diagnose, and build the report (the same rules and model as `run`)."""
    from mpdoctor.collect.inspect import environment_of, inspect_tree
    from mpdoctor.diagnose import diagnose
    from mpdoctor.model import Outcome
    from mpdoctor.report_builder import add_live_figures, build_report

    inspection = inspect_tree(pid, options)
    evidence = inspection.evidence
    root = evidence.processes.get(inspection.root)
    notes = [_stacks_note(inspection)]
    built = build_report(
        evidence,
        Outcome("running", None, None, "target", max(0.0, evidence.duration_s)),
        environment_of(inspection),
        root.cmdline if root and root.cmdline else [f"pid {pid}"],
        diagnose(evidence),
        notes,
    )
    figures = {(k.pid, k.create_time): f for k, f in inspection.figures.items()}
    return add_live_figures(built, figures), inspection


def _stacks_note(inspection) -> str:
    means = {
        "probe": "the probe of `mpdoctor run` (faulthandler)",
        "py-spy": "py-spy",
        "probe+py-spy": "the probe of `mpdoctor run`, and py-spy for unprobed processes",
        "none": "none",
    }.get(inspection.stacks_means, inspection.stacks_means)
    text = f"stacks: {means}"
    if inspection.stacks_note:
        text += f"; {inspection.stacks_note}"
    return text


def _write(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        pass


def _watch(pid: int, every: float, options, color: ColorChoice) -> int:
    """Refresh until Ctrl-C or until the root exits: live on a terminal, else one snapshot
    per refresh."""
    from mpdoctor.collect.inspect_target import BadTarget, TargetGone
    from mpdoctor.render.console import make_console
    from mpdoctor.render.watch import WatchState, watch_view

    console = make_console(sys.stdout, color.value, os.environ)
    state = WatchState()
    live = None
    if console.is_terminal:
        from rich.live import Live

        console.is_interactive = True
        live = Live(console=console, auto_refresh=False, transient=False)
        live.start()
    try:
        while True:
            started = time.monotonic()
            try:
                built, _inspection = inspect_report(pid, options)
            except (TargetGone, BadTarget):
                if not state.refreshes:
                    raise  # never seen: bad input, as without --watch
                built = None  # it exited (or became a zombie) since the last refresh
            view = watch_view(state, built, pid)
            if live is not None:
                live.update(view, refresh=True)
            else:
                console.print(view)
                sys.stdout.flush()
            if built is None:
                return 0
            time.sleep(max(0.0, every - (time.monotonic() - started)))
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        return 0
    finally:
        if live is not None:
            live.stop()
