"""The Console mpdoctor prints its report on: colour and width from the stream and an injected
environment, never from os.environ (the CLI passes it; tests pass their own).

On a terminal: colour and the terminal's width. In a CI log (no terminal): no ANSI codes and a
width of 120, unless FORCE_COLOR or COLUMNS say otherwise. NO_COLOR is honoured; `--color
always|never` overrides the environment. Never any live redraw.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import IO, Literal

from rich.console import Console

ColorChoice = Literal["auto", "always", "never"]

CI_WIDTH = 120  # no terminal to ask: wide enough for a log, narrow enough to read


def make_console(
    stream: IO[str], color: ColorChoice = "auto", environ: Mapping[str, str] | None = None
) -> Console:
    """A Console for mpdoctor's report on `stream`, configured from `environ` only.

    Colour: `always` and `never` win; `auto` honours NO_COLOR, then FORCE_COLOR, then uses
    colour only on a terminal (not TERM=dumb). Width: COLUMNS when set, else the terminal's,
    else 120. Never any live redraw.
    """
    env = dict(environ or {})
    tty = _isatty(stream)
    if color == "always":
        use_color = True
    elif color == "never" or env.get("NO_COLOR", "") != "":
        use_color = False
    elif env.get("FORCE_COLOR", "") != "":
        use_color = True
    else:
        use_color = tty and env.get("TERM", "").lower() not in ("dumb", "unknown")
    columns = env.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() and int(columns) > 0 else None
    if width is None:
        width = _terminal_width(stream) if tty else CI_WIDTH
    return Console(
        file=stream,
        width=width,
        color_system=_color_system(env) if use_color else None,
        force_terminal=use_color,
        force_interactive=False,
        force_jupyter=False,
        no_color=False,
        highlight=False,
        emoji=False,
        legacy_windows=False,
        soft_wrap=False,
        _environ=env,
    )


def _isatty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _terminal_width(stream: IO[str]) -> int | None:
    """The width of the terminal `stream` writes to (rich would ask stdin/stdout/stderr)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or None
    except (AttributeError, ValueError, OSError):
        return None


def _color_system(env: Mapping[str, str]) -> Literal["truecolor", "256", "standard"]:
    if env.get("COLORTERM", "").strip().lower() in ("truecolor", "24bit"):
        return "truecolor"
    if env.get("TERM", "").strip().lower().endswith("256color"):
        return "256"
    return "standard"
