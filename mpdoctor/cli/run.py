"""`mpdoctor run`: run a program as `python` would, with the probe, then report what happened.

The target starts before anything that only the report needs is imported (fixed cost), and its
exit status survives whatever happens to mpdoctor afterwards: a failure while diagnosing or
rendering prints one line and still exits as the target did.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from mpdoctor.cli.argv import COMMAND_FLAG
from mpdoctor.cli.output import ColorChoice, print_report
from mpdoctor.errors import UsageError

COMMAND_SETTINGS = {
    "context_settings": {"allow_interspersed_args": False},
    "epilog": (
        "Exit status: the program's own; if the program dies by signal N, mpdoctor dies by N "
        "too. 124: mpdoctor stopped it (timeout, proven deadlock, respawn loop). 2: usage "
        "error. 125: mpdoctor "
        "failed. 126/127: the -- COMMAND is not executable / not found."
    ),
}


class StartMethod(str, Enum):
    fork = "fork"
    spawn = "spawn"
    forkserver = "forkserver"


class MpLog(str, Enum):
    off = "off"
    warning = "warning"
    info = "info"
    debug = "debug"
    subdebug = "subdebug"


def run(
    program: list[str] = typer.Argument(
        None,
        metavar="SCRIPT [ARGS]... | -m MODULE [ARGS]... | -- COMMAND [ARGS]...",
        help="The program and its arguments: everything after it belongs to it.",
        show_default=False,
    ),
    module: str | None = typer.Option(
        None, "-m", "--module", help="Run a library module as a script, as `python -m`."
    ),
    python: str | None = typer.Option(
        None,
        "--python",
        help="Interpreter to run SCRIPT or -m with (default: python, else python3, on PATH).",
    ),
    report: Path | None = typer.Option(
        None, "--report", help="Write the JSON report (schema v1) to this file."
    ),
    start_method: StartMethod | None = typer.Option(
        None,
        "--start-method",
        help=(
            "Default start method of every process, as macOS/Windows (spawn) or Python 3.14 "
            "(forkserver) have it; the program's own set_start_method/get_context still win."
        ),
    ),
    mp_log: MpLog = typer.Option(
        MpLog.info, "--mp-log", help="multiprocessing.log_to_stderr level in every process."
    ),
    timeout: float | None = typer.Option(
        None,
        "--timeout",
        min=0.01,
        help="Stop the whole tree after this many seconds (exit 124), reporting what it waits on.",
    ),
    hang_after: float = typer.Option(
        10.0,
        "--hang-after",
        min=0.0,
        help=(
            "Report a tree that made no progress for this many seconds (what every thread "
            "waits on, and its stack) while it runs on; 0: never. A proven deadlock is "
            "reported and stopped within about 2 s whatever this says."
        ),
    ),
    keep_going: bool = typer.Option(
        False, "--keep-going", help="Report a proven deadlock but do not stop the program."
    ),
    stack_signal: str = typer.Option(
        "default",
        "--stack-signal",
        help=(
            "Signal on which every probed process dumps its stacks (faulthandler): a name "
            "(SIGUSR2), a number, or off. Default: SIGRTMIN+8."
        ),
        show_default=False,
    ),
    keep_orphans: bool = typer.Option(
        False, "--keep-orphans", help="Leave processes that outlive the program running."
    ),
    color: ColorChoice = typer.Option(ColorChoice.auto, "--color", help="auto, always or never."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing when nothing is found."),
    exec_command: bool = typer.Option(False, COMMAND_FLAG, hidden=True),
) -> int:
    """Run a Python program (or any command) with a probe in every process, then diagnose it."""
    from mpdoctor.collect.launcher import Target
    from mpdoctor.collect.runner import RunOptions, run_target

    target = _target(Target, program or [], module, exec_command)
    if report is not None:
        from mpdoctor.render.json_report import check_writable

        check_writable(report)
    options = RunOptions(
        python=python,
        mp_log=mp_log.value,
        timeout=timeout,
        keep_orphans=keep_orphans,
        start_method=start_method.value if start_method else None,
        hang_after=hang_after or None,
        keep_going=keep_going,
        stack_signal=_stack_signal(stack_signal),
        on_report=lambda partial: _report(partial, report, color, quiet=False),
    )
    result = run_target(target, options)  # the program has run; its status must survive
    try:
        if result.reported:  # printed before mpdoctor ended the tree; the JSON gets the end
            _report(result, report, color, quiet, show=False)
        else:
            _report(result, report, color, quiet)
    except UsageError as exc:  # the report file could not be written after all (a full disk)
        import sys

        sys.stderr.write(f"mpdoctor: {exc}\n")
    except Exception as exc:  # a bug while diagnosing must not cost the program's status
        import sys

        sys.stderr.write(f"mpdoctor: internal error while reporting: {type(exc).__name__}: {exc}\n")
    return _exit_status(result)


def _target(target_cls, program: list[str], module: str | None, exec_command: bool):
    if module is not None:
        return target_cls.module(module, program)
    if not program:
        raise UsageError("missing program: give SCRIPT, -m MODULE or -- COMMAND")
    if exec_command:
        return target_cls.command(program)
    return target_cls.script(program[0], program[1:])


def _stack_signal(text: str) -> int:
    """--stack-signal: a signal name or number, "off" (0) or "default"."""
    import signal

    from mpdoctor.collect.session import DEFAULT_STACK_SIGNAL

    if text == "default":
        return int(DEFAULT_STACK_SIGNAL)
    if text == "off":
        return 0
    if text.isdigit():
        number = int(text)
    else:
        name = text.upper() if text.upper().startswith("SIG") else "SIG" + text.upper()
        base, plus, offset = name.partition("+")
        try:
            number = int(getattr(signal, base)) + (int(offset) if plus else 0)
        except (AttributeError, ValueError):
            raise UsageError(f"--stack-signal {text}: no such signal") from None
    # Only signals nothing else uses by default: a real-time one, or SIGUSR1/SIGUSR2 (taking
    # SIGINT or SIGTERM over would change what Ctrl-C or a kill does to the program).
    realtime = hasattr(signal, "SIGRTMIN") and signal.SIGRTMIN <= number <= signal.SIGRTMAX
    if not realtime and number not in (signal.SIGUSR1, signal.SIGUSR2):
        raise UsageError(
            f"--stack-signal {text}: use a real-time signal (SIGRTMIN+N), SIGUSR1 or SIGUSR2"
        )
    return number


def _report(
    result, report_path: Path | None, color: ColorChoice, quiet: bool, show: bool = True
) -> None:
    from mpdoctor.diagnose import diagnose
    from mpdoctor.report_builder import build_report

    findings = diagnose(result.evidence)
    full = build_report(
        result.evidence,
        outcome=result.outcome,
        environment=result.environment,
        command=result.command,
        findings=findings,
        notes=result.notes,
    )
    if show:
        print_report(full, color, quiet=quiet)
    if report_path is not None:
        from mpdoctor.render.json_report import write_report

        write_report(full, report_path)


def _exit_status(result) -> int:
    """The program's status: its code, 124 when mpdoctor stopped it, or death by its signal."""
    return result.finish()  # never returns when the program died by a signal
