"""The command line (`main`). Importing it first puts mpdoctor's own libraries ahead of the
program's PYTHONPATH (see `_own_libraries_first`)."""

import os
import sys


def _own_libraries_first() -> None:
    """Move the sys.path entries that PYTHONPATH put there behind all others, in this process.

    PYTHONPATH is set for the program (mpdoctor passes it on untouched), yet the interpreter
    running mpdoctor reads it too: a copy of typer, click, rich or psutil on it (another
    environment's site-packages, a project's vendored copy) would replace mpdoctor's own and
    fail before the program starts. Behind the rest, what is only there is still found."""
    if sys.flags.ignore_environment or not os.environ.get("PYTHONPATH"):
        return
    from_env = {
        os.path.normcase(os.path.abspath(entry))
        for entry in os.environ["PYTHONPATH"].split(os.pathsep)
        if entry
    }
    moved = [p for p in sys.path if p and os.path.normcase(os.path.abspath(p)) in from_env]
    if moved:
        sys.path[:] = [p for p in sys.path if p not in moved] + moved


_own_libraries_first()
