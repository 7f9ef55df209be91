"""Where mpdoctor's own report goes: stderr, through one rich Console made from the environment."""

from __future__ import annotations

import os
import sys
from enum import Enum
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # loaded after the program has started (runner), not before
    from mpdoctor.model import Report


class ColorChoice(str, Enum):
    auto = "auto"
    always = "always"
    never = "never"


def print_report(
    report: Report, color: ColorChoice, *, quiet: bool = False, stream: TextIO | None = None
) -> None:
    """Render `report` on stderr (`run`, `report`) or `stream` (`inspect`: stdout); with
    `quiet`, print nothing unless there are findings."""
    if quiet and not report.findings:
        return
    from mpdoctor.render.console import make_console, render_report

    console = make_console(stream or sys.stderr, color.value, os.environ)
    try:
        render_report(report, console, paths_under=_cwd())
    except BrokenPipeError:
        pass  # the stream went away (`| head`): the exit status still tells


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # the directory was removed under us: show absolute paths
        return None


def print_check(script: str, findings, rows, color: ColorChoice) -> None:
    """Render `mpdoctor check`'s static findings and matrix on stderr."""
    from mpdoctor.render.console import make_console
    from mpdoctor.render.matrix import render_check

    console = make_console(sys.stderr, color.value, os.environ)
    try:
        render_check(script, findings, rows, console, paths_under=_cwd())
    except BrokenPipeError:
        pass
