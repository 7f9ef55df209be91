"""The console renderer, compared as whole text, and the Console it is given."""

from __future__ import annotations

import fcntl
import io
import os
import struct
import termios
from pathlib import Path

import pytest
from render_fixtures import clean_report, report_with_findings
from rich.console import Console

from mpdoctor.model import Outcome
from mpdoctor.render.console import make_console, render_report
from mpdoctor.render.formatting import outcome_text

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("MPDOCTOR_REGENERATE_GOLDEN") == "1"


def plain_console(width: int = 100) -> Console:
    return Console(
        file=io.StringIO(), width=width, force_terminal=False, color_system=None, _environ={}
    )


def rendered(report, console: Console | None = None) -> str:
    console = console or plain_console()
    render_report(report, console)
    return console.file.getvalue()


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if REGENERATE:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_report_with_findings_as_a_ci_log_shows_it() -> None:
    check_golden("report_with_findings.txt", rendered(report_with_findings()))


def test_report_without_findings() -> None:
    text = rendered(clean_report())
    check_golden("clean_report.txt", text)
    assert "\nno findings\n" in text and "remediation" not in text


def test_plain_output_has_no_escape_codes_and_no_trailing_spaces() -> None:
    text = rendered(report_with_findings())
    assert "\x1b" not in text
    assert all(line == line.rstrip() for line in text.splitlines())


def test_markup_in_names_and_messages_prints_as_itself() -> None:
    text = rendered(report_with_findings())
    assert "fork-child 4004 Loader-[bold]1[/bold]: exited 1" in text
    assert "ValueError: bad row 7: '[red]x[/red]'" in text


def test_urls_and_locations_are_never_broken() -> None:
    text = rendered(report_with_findings(), plain_console(width=60))
    assert (
        "  docs: https://docs.python.org/3/library/concurrent.futures.html#processpoolexecutor"
        in text.splitlines()
    )
    assert "  at /home/dev/app/pipeline.py:31 (created, pid 4000)" in text.splitlines()


@pytest.mark.parametrize(
    "paths_under, shown",
    [
        ("/home/dev/app", "pipeline.py:31"),
        ("/home/dev", "app/pipeline.py:31"),
        ("/home/dev/other", "/home/dev/app/pipeline.py:31"),  # outside: absolute, never ../
        ("/", "/home/dev/app/pipeline.py:31"),
        (None, "/home/dev/app/pipeline.py:31"),
    ],
)
def test_locations_under_the_working_directory_are_relative(paths_under, shown) -> None:
    console = plain_console(width=200)
    render_report(report_with_findings(), console, paths_under=paths_under)
    lines = console.file.getvalue().splitlines()
    assert f"  at {shown} (created, pid 4000)" in lines
    # the message and the evidence name files the same way
    assert any(f"a worker of the Pool created at {shown}, was killed" in line for line in lines)
    assert any(f'File "{shown[: -len(":31")]}", line 14, in load' in line for line in lines)


def test_colour_on_a_terminal() -> None:
    console = Console(
        file=io.StringIO(), width=100, force_terminal=True, color_system="standard", _environ={}
    )
    text = rendered(report_with_findings(), console)
    assert "\x1b[1;31mERROR\x1b[0m" in text  # severity in bold red
    assert "\x1b[1;31mkilled by SIGKILL\x1b[0m" in text  # an abnormal exit in red


@pytest.mark.parametrize(
    ("outcome", "text"),
    [
        (Outcome("exited", exit_code=0, duration_s=1.5), "exited with code 0 after 1.50 s"),
        (Outcome("signaled", signal=9, duration_s=0.5), "killed by SIGKILL after 0.50 s"),
        (Outcome("signaled", signal=7, duration_s=0.5), "killed by SIGBUS after 0.50 s"),
        (Outcome("timeout", duration_s=60), "stopped by mpdoctor: timeout after 60.00 s"),
        (Outcome("deadlock-stopped"), "stopped by mpdoctor: deadlock after 0.00 s"),
        (Outcome("stopped-respawn-loop"), "stopped by mpdoctor: respawn loop after 0.00 s"),
        (Outcome("interrupted", duration_s=2), "interrupted after 2.00 s"),
        (Outcome("not-started"), "not started"),
    ],
)
def test_outcomes(outcome: Outcome, text: str) -> None:
    assert outcome_text(outcome, "linux") == text


def test_outcome_stopped_by_mpdoctor_names_its_exit_status() -> None:
    report = clean_report()
    report.outcome = Outcome("timeout", whose="mpdoctor", duration_s=5.0)
    assert "outcome       stopped by mpdoctor: timeout after 5.00 s (exit status 124)" in (
        rendered(report)
    )


# make_console: colour and width decided from the stream and the injected environment only.


def _console_output(console: Console) -> str:
    render_report(clean_report(), console)
    stream = console.file
    return stream.getvalue() if isinstance(stream, io.StringIO) else ""


@pytest.mark.parametrize(
    ("color", "environ", "ansi"),
    [
        ("auto", {}, False),  # no terminal: a CI log
        ("auto", {"FORCE_COLOR": "1"}, True),
        ("auto", {"FORCE_COLOR": ""}, False),  # empty means unset
        ("auto", {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),
        ("always", {}, True),
        ("always", {"NO_COLOR": "1"}, True),  # the explicit flag wins
        ("never", {"FORCE_COLOR": "1"}, False),
    ],
)
def test_colour_without_a_terminal(color: str, environ: dict[str, str], ansi: bool) -> None:
    console = make_console(io.StringIO(), color, environ)
    assert ("\x1b[" in _console_output(console)) is ansi
    assert console.width == 120


def test_width_from_columns() -> None:
    assert make_console(io.StringIO(), "auto", {"COLUMNS": "80"}).width == 80
    assert make_console(io.StringIO(), "auto", {"COLUMNS": "junk"}).width == 120


def test_the_process_environment_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "33")
    console = make_console(io.StringIO(), "auto", {})
    assert "\x1b[" not in _console_output(console)
    assert console.width == 120


@pytest.fixture
def pty_stream():
    """A real terminal: the writing end of a pty, 132 columns wide."""
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 132, 0, 0))
    stream = os.fdopen(follower, "w", encoding="utf-8")
    try:
        yield stream
    finally:
        stream.close()
        os.close(leader)


@pytest.mark.parametrize(
    ("color", "environ", "colour"),
    [
        ("auto", {"TERM": "xterm-256color"}, True),
        ("auto", {"TERM": "dumb"}, False),
        ("auto", {"TERM": "xterm", "NO_COLOR": "1"}, False),
        ("never", {"TERM": "xterm"}, False),
    ],
)
def test_on_a_terminal(pty_stream, color: str, environ: dict[str, str], colour: bool) -> None:
    console = make_console(pty_stream, color, environ)
    assert (console.color_system is not None) is colour
    assert console.width == 132
    assert not console.is_interactive  # never a live redraw
    assert make_console(pty_stream, color, {**environ, "COLUMNS": "90"}).width == 90
