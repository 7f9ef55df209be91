"""Helpers for the monitor's tests: run `run_target` in a fresh process (driver.py).

A plain module, not a conftest (two conftest modules would clash on import).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "driver.py"
TARGETS = HERE / "targets"


@dataclass
class DriverRun:
    returncode: int
    stdout: bytes
    stderr: bytes
    summary: dict[str, Any] | None

    def process(self, pid: int) -> dict[str, Any]:
        assert self.summary is not None
        return next(p for p in self.summary["processes"] if p["pid"] == pid)

    @property
    def main(self) -> dict[str, Any]:
        assert self.summary is not None and self.summary["main"] is not None
        return self.process(self.summary["main"]["pid"])


def driver_argv(summary: Path, *args: str) -> list[str]:
    return [sys.executable, str(DRIVER), str(summary), *args]


def run_driver(
    tmp_path: Path,
    *args: str,
    input: bytes = b"",
    timeout: float = 60,
    options: Sequence[str] = (),
) -> DriverRun:
    """Run driver.py in `tmp_path` (its cwd) and read back its summary."""
    summary = tmp_path / "summary.json"
    summary.unlink(missing_ok=True)
    proc = subprocess.run(
        driver_argv(summary, *options, *args),
        input=input,
        capture_output=True,
        timeout=timeout,
        cwd=tmp_path,
    )
    data = json.loads(summary.read_text()) if summary.exists() else None
    return DriverRun(proc.returncode, proc.stdout, proc.stderr, data)
