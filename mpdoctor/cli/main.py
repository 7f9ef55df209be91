"""The `mpdoctor` command: parse, dispatch, and turn every error into one line and an exit code.

This is the only place that maps errors to exit codes (memray's rule): commands raise
`MpdoctorError`, click raises its usage errors, and `main` prints one `mpdoctor: ...` line for
each. Commands return the process exit status; nothing else calls `sys.exit`.
"""

from __future__ import annotations

import sys

import typer

try:  # typer >= 0.23 carries its own copy of click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer on top of click
    from click import exceptions as click_exceptions

from mpdoctor import __version__
from mpdoctor.cli import check as check_cmd
from mpdoctor.cli import inspect as inspect_cmd
from mpdoctor.cli import report as report_cmd
from mpdoctor.cli import run as run_cmd
from mpdoctor.cli.argv import COMMAND_FLAG, split_run_argv
from mpdoctor.errors import EXIT_INTERNAL, EXIT_USAGE, MpdoctorError

app = typer.Typer(
    name="mpdoctor",
    help="Diagnose multiprocess Python programs: hangs, crashed or killed workers, leaks.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mpdoctor {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Diagnose multiprocess Python programs."""


app.command("run", **run_cmd.COMMAND_SETTINGS)(run_cmd.run)
app.command("report")(report_cmd.report)
app.command("check", **check_cmd.COMMAND_SETTINGS)(check_cmd.check)
app.command("inspect", **inspect_cmd.COMMAND_SETTINGS)(inspect_cmd.inspect)


def _prepare_argv(argv: list[str]) -> list[str]:
    """Apply Python's "the rest belongs to the program" rule to `mpdoctor run` and `check`."""
    if argv and argv[0] == "inspect":
        return ["inspect", *inspect_cmd.prepare_argv(argv[1:])]
    if not argv or argv[0] not in ("run", "check"):
        return argv
    run_click = typer.main.get_command(app).commands[argv[0]]  # type: ignore[attr-defined]
    with_values = [
        opt
        for param in run_click.params
        if param.param_type_name == "option" and not getattr(param, "is_flag", False)
        for opt in param.opts + param.secondary_opts
    ]
    split = split_run_argv(argv[1:], with_values)
    if argv[0] == "check":  # check has no `-- COMMAND` form: a `--` only ends its options
        split = [token for token in split if token != COMMAND_FLAG]
    return [argv[0], *split]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = app(_prepare_argv(args), prog_name="mpdoctor", standalone_mode=False)
    except MpdoctorError as exc:
        _error(exc.message, exc.hint)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        _error("aborted")
        return 130
    except click_exceptions.ClickException as exc:  # usage errors: unknown option, bad value
        _error(exc.format_message().replace("\n", " "))
        return EXIT_USAGE if exc.exit_code == 2 else exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug in mpdoctor: one line, never a traceback
        _error(f"internal error: {type(exc).__name__}: {exc}")
        return EXIT_INTERNAL
    return result if isinstance(result, int) else 0


def _error(message: str, hint: str | None = None) -> None:
    line = f"mpdoctor: {message}"
    if hint:
        line += f" ({hint})"
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # stderr closed: the exit code still says it
