"""`mpdoctor check SCRIPT`: static rules on the source; `--matrix` also runs the program under
each default start method and a Windows-like column, to answer "will it work on macOS, Windows
and Python 3.14?" before the user gets there."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from mpdoctor.cli.output import ColorChoice, print_check
from mpdoctor.errors import EXIT_USAGE, UsageError

COMMAND_SETTINGS = {
    "context_settings": {"allow_interspersed_args": False},
    "epilog": (
        "Exit status: 0 when nothing was found (and every matrix column ran cleanly), 1 when an "
        "error-level finding was found or a column failed, 2 usage error (a missing or "
        "unparsable script), 130 interrupted."
    ),
}

# (column, default start method, the only methods that exist; () = all of the platform's)
COLUMNS = (
    ("fork", "fork", ()),
    ("spawn", "spawn", ()),
    ("forkserver", "forkserver", ()),
    ("windows-like", "spawn", ("spawn",)),
)
_OUTPUT_TAIL = 1  # lines of a failing column's output shown (its error, usually)


def check(
    program: list[str] = typer.Argument(
        None,
        metavar="SCRIPT [ARGS]...",
        help="The program (and, with --matrix, its arguments).",
        show_default=False,
    ),
    matrix: bool = typer.Option(
        False, "--matrix", help="Also run it under fork, spawn, forkserver and Windows-like."
    ),
    timeout: float = typer.Option(
        30.0, "--timeout", min=0.1, help="Seconds each --matrix run may take."
    ),
    python: str | None = typer.Option(
        None,
        "--python",
        help="Interpreter for --matrix runs (default: python, else python3, on PATH).",
    ),
    color: ColorChoice = typer.Option(ColorChoice.auto, "--color", help="auto, always or never."),
) -> int:
    """Check a program's source for multiprocessing mistakes, without running it."""
    from mpdoctor.static.ast_rules import check_source, decode_source

    if not program:
        raise UsageError("missing program: give SCRIPT")
    script = _script_file(Path(program[0]))
    try:
        source = decode_source(script.read_bytes())  # its coding cookie, a BOM: as python
    except (OSError, ValueError) as exc:
        raise UsageError(f"{script}: cannot read: {exc}") from None
    try:
        findings = check_source(source, str(script.resolve()))
    except SyntaxError as exc:
        where = f"{script}:{line}" if (line := _error_line(exc, source)) else str(script)
        raise UsageError(f"{where}: syntax error: {exc.msg}") from None
    rows = _run_matrix(program, timeout, python) if matrix else None
    print_check(str(script), findings, rows, color)
    if rows is not None and any(row.interrupted for row in rows):
        return 130
    failed = any(f.severity == "error" for f in findings) or any(not r.ok for r in rows or [])
    return 1 if failed else 0


def _error_line(exc: SyntaxError, source: str) -> int | None:
    """The line of a syntax error; for a NUL byte, which the parser reports without one, the
    line holding the first (as python names it)."""
    if exc.lineno:
        return exc.lineno
    if "\0" in source:
        return source.count("\n", 0, source.index("\0")) + 1
    return None


def _script_file(path: Path) -> Path:
    if path.is_dir():
        main = path / "__main__.py"
        if main.is_file():
            return main
        raise UsageError(f"{path}: is a directory without __main__.py")
    if not path.exists():
        raise UsageError(f"{path}: No such file or directory", exit_code=EXIT_USAGE)
    return path


def _run_matrix(program: list[str], timeout: float, python: str | None) -> list:
    import tempfile

    from mpdoctor.collect.launcher import Target
    from mpdoctor.collect.runner import RunOptions, run_target
    from mpdoctor.diagnose import diagnose
    from mpdoctor.render.matrix import MatrixRow

    rows = []
    with tempfile.TemporaryDirectory(prefix="mpdoctor-check-") as scratch:
        for column, method, only in COLUMNS:
            output = os.path.join(scratch, f"{column}.out")
            options = RunOptions(
                python=python,
                mp_log="off",
                timeout=timeout,
                start_method=method,
                only_methods=only,
                output=output,
            )
            result = run_target(Target.script(program[0], program[1:]), options)
            result.restore_signals()
            interrupted = any(s.name == "SIGINT" for s in result.signals)
            rows.append(
                MatrixRow(
                    column=column,
                    outcome=result.outcome,
                    findings=diagnose(result.evidence),
                    output_tail=_tail(output),
                    interrupted=interrupted,
                    not_applied=result.start_method_not_applied is not None,
                )
            )
            if interrupted:
                break
    return rows


def _tail(path: str) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-_OUTPUT_TAIL:]
