"""Running the real CLI and plain python in subprocesses, for the tests (imported by name:
`from cli_support import run_mpdoctor`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def mpdoctor_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "mpdoctor", *args]


def run_mpdoctor(args: Sequence[str], **options) -> subprocess.CompletedProcess[bytes]:
    """Run the real CLI (`python -m mpdoctor ARGS`), as run_plain runs any command."""
    return run_plain(mpdoctor_argv(*args), **options)


def run_plain(
    argv: Sequence[str],
    *,
    timeout: float = 60,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run a command with stdout and stderr captured as bytes, stdin empty unless given, and
    the colour variables of the test machine removed (tests set what they need)."""
    inherited = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    return subprocess.run(
        list(argv),
        input=input if input is not None else b"",
        capture_output=True,
        timeout=timeout,
        env={**inherited, "COLUMNS": "120", **(env or {})},
        cwd=str(cwd or ROOT),
    )
