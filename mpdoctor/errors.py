"""mpdoctor's own errors: each carries the exit code `cli.main` turns it into (one place)."""

from __future__ import annotations

EXIT_USAGE = 2
EXIT_STOPPED = 124  # mpdoctor stopped the target (timeout, deadlock, respawn loop)
EXIT_INTERNAL = 125  # mpdoctor itself failed
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127


class MpdoctorError(Exception):
    """An error mpdoctor reports as one `mpdoctor: ...` line and an exit code."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, *, exit_code: int | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(MpdoctorError):
    """Bad command line or bad input file."""

    exit_code = EXIT_USAGE


class CommandNotFound(MpdoctorError):
    exit_code = EXIT_NOT_FOUND


class CommandNotExecutable(MpdoctorError):
    exit_code = EXIT_NOT_EXECUTABLE
