"""`mpdoctor report PATH`: render a saved JSON report, as `run` rendered it."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path

import typer

from mpdoctor.cli.output import ColorChoice, print_report


class ReportFormat(str, Enum):
    console = "console"
    json = "json"


def report(
    path: Path = typer.Argument(..., help="A report written by `mpdoctor run --report PATH`."),
    fmt: ReportFormat = typer.Option(
        ReportFormat.console, "--format", help="console (rich text on stderr) or json (stdout)."
    ),
    color: ColorChoice = typer.Option(ColorChoice.auto, "--color", help="auto, always or never."),
) -> int:
    """Render a saved report."""
    from mpdoctor.render.json_report import load_report

    saved = load_report(path)
    if fmt is ReportFormat.json:
        import json

        sys.stdout.write(json.dumps(saved.to_dict(), indent=2) + "\n")
        return 0
    print_report(saved, color)
    return 0
