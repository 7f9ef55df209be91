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


def run_mpdoctor(
    args: Sequence[str],
    *,
    timeout: float = 60,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run the real CLI; stdout and stderr captured as bytes."""
    return _run(mpdoctor_argv(*args), timeout=timeout, input=input, env=env, cwd=cwd)


def run_plain(
    args: Sequence[str],
    *,
    timeout: float = 60,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    return _run(list(args), timeout=timeout, input=input, env=env, cwd=cwd)


def _run(argv, *, timeout, input, env, cwd) -> subprocess.CompletedProcess[bytes]:
    inherited = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    full_env = {**inherited, "COLUMNS": "120", **(env or {})}
    return subprocess.run(
        argv,
        input=input if input is not None else b"",
        capture_output=True,
        timeout=timeout,
        env=full_env,
        cwd=str(cwd or ROOT),
    )
