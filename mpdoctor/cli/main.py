"""The `mpdoctor` command: parse, dispatch, and turn every error into one line and an exit code.

This is the only place that maps errors to exit codes (memray's rule): commands raise
`MpdoctorError`, click raises its usage errors, and `main` prints one `mpdoctor: ...` line for
each. Commands return the process exit status; nothing else calls `sys.exit`.
"""

from __future__ import annotations

import sys

import typer

try:  # typer >= 0.23 carries its own copy of click
    from typer._click import core as click_core
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer on top of click
    from click import core as click_core
    from click import exceptions as click_exceptions

from mpdoctor import __version__
from mpdoctor.cli.argv import COMMAND_FLAG, split_run_argv
from mpdoctor.errors import EXIT_INTERNAL, EXIT_USAGE, MpdoctorError

# Each command lives in `mpdoctor.cli.<name>` as a function of that name. Only the command that
# is invoked is imported and turned into a click command (all of them for `--help` or a typo):
# typer reads every parameter of a signature, which costs milliseconds before the program starts.
COMMANDS = ("run", "report", "check", "inspect")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mpdoctor {__version__}")
        raise typer.Exit(0)


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Diagnose multiprocess Python programs."""


def build_cli(argv: list[str]) -> click_core.Group:
    """The click group for this command line: the root options and the commands it may need."""
    import importlib

    app = typer.Typer(
        name="mpdoctor",
        help="Diagnose multiprocess Python programs: hangs, crashed or killed workers, leaks.",
        add_completion=False,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    app.callback()(_root)
    for name in argv[:1] if argv and argv[0] in COMMANDS else COMMANDS:
        module = importlib.import_module(f"mpdoctor.cli.{name}")
        app.command(name, **getattr(module, "COMMAND_SETTINGS", {}))(getattr(module, name))
    return typer.main.get_command(app)  # type: ignore[return-value]


def _prepare_argv(cli: click_core.Group, argv: list[str]) -> list[str]:
    """Apply Python's "the rest belongs to the program" rule to `mpdoctor run` and `check`."""
    if argv and argv[0] == "inspect":
        from mpdoctor.cli.inspect import prepare_argv

        return ["inspect", *prepare_argv(argv[1:])]
    if not argv or argv[0] not in ("run", "check"):
        return argv
    with_values = [
        opt
        for param in cli.commands[argv[0]].params
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
        cli = build_cli(args)
        result = cli.main(_prepare_argv(cli, args), prog_name="mpdoctor", standalone_mode=False)
    except MpdoctorError as exc:
        _error(exc.message, exc.hint)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        _error("aborted")
        return 130
    except click_exceptions.ClickException as exc:  # usage errors: unknown option, bad value
        message = exc.format_message().replace("\n", " ")
        if message:  # empty after no arguments at all: the help already says it
            _error(message)
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
