"""Run programs with the probe directly (no CLI) and read the events it wrote.

    run_probed(python, PROGRAMS / "x.py", "spawn")      -> ProbedRun (output, exit code, events)
    run_unprobed(python, PROGRAMS / "x.py", "spawn")    -> the same program without the probe

The probe is enabled exactly as the monitor does it: PYTHONPATH=<probe root>[:user's],
MPDOCTOR_SESSION=<private dir with events/>, MPDOCTOR_MP_LOG=<level>. Each run is bounded by a
timeout and runs in its own session; on timeout its whole process group is killed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PROBE_ROOT = ROOT / "mpdoctor" / "_probe_root"
PROGRAMS = HERE / "programs"
PYENV = Path("/root/.pyenv/versions")

START_METHODS = ("fork", "spawn", "forkserver")


def find_python(version: str) -> Path | None:
    """The pyenv interpreter for "X.Y" (newest patch release), or None."""
    if not PYENV.is_dir():
        return None
    found = sorted(
        (p for p in PYENV.glob(version + ".*") if re.fullmatch(r"\d+\.\d+\.\d+", p.name)),
        key=lambda p: tuple(int(x) for x in p.name.split(".")),
    )
    for candidate in reversed(found):
        python = candidate / "bin" / "python"
        if python.exists():
            return python
    return None


SUPPORTED = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")
OLD = ("2.7", "3.6", "3.7")


def interpreter_params(versions: tuple[str, ...]) -> list[Any]:
    """pytest params "X.Y" -> interpreter path, skipped where that Python is not installed."""
    import pytest

    params = []
    for version in versions:
        python = find_python(version)
        if python is None and sys.version_info[:2] == tuple(map(int, version.split("."))):
            python = Path(sys.executable)
        marks = [] if python else [pytest.mark.skip(reason=f"Python {version} not installed")]
        params.append(pytest.param(python, id=f"py{version}", marks=marks))
    return params


@dataclass
class ProbedRun:
    pid: int  # the program's main process
    returncode: int
    stdout: bytes
    stderr: bytes
    session: Path | None
    events: list[dict[str, Any]] = field(default_factory=list)

    def of(self, kind: str, pid: int | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if e["e"] == kind and (pid is None or e["pid"] == pid)]

    def one(self, kind: str, pid: int | None = None) -> dict[str, Any]:
        found = self.of(kind, pid)
        assert len(found) == 1, f"expected one {kind!r} event, got {found}"
        return found[0]

    @property
    def main_pid(self) -> int:
        """The program's main process, checked to have written its `start`."""
        assert len(self.of("start", self.pid)) == 1, self.events
        return self.pid

    def text(self) -> str:
        return (self.stdout + self.stderr).decode("utf-8", "replace")


def read_events(session: Path) -> list[dict[str, Any]]:
    """All events of a session, each file's in order, files by name. Checks the file contract."""
    events = []
    for path in sorted((session / "events").iterdir()):
        pid, tag = path.name.removesuffix(".jsonl").split("-", 1)
        assert path.name.endswith(".jsonl") and pid.isdigit(), path.name
        assert path.stat().st_mode & 0o777 == 0o600, oct(path.stat().st_mode)
        data = path.read_bytes()
        if not data:
            continue  # killed between creating its file and writing `start` (a SIGTERMed worker)
        assert data.endswith(b"\n"), f"{path.name}: torn last line"
        for line in data.decode("utf-8").splitlines():
            event = json.loads(line)
            assert event["pid"] == int(pid), (path.name, event)
            assert isinstance(event["t"], float) and isinstance(event["e"], str)
            event["_file"] = path.name
            events.append(event)
        first = json.loads(data.splitlines()[0])
        assert first["e"] == "start", (path.name, first)
        if first["ticks"] is not None:
            assert tag == str(first["ticks"]), (path.name, first)
    return events


def probe_env(
    session: Path | None,
    mp_log: str = "off",
    extra_path: str | None = None,
    probe_path: bool | None = None,
) -> dict:
    """The environment of a run: the probe root on PYTHONPATH when probing (or `probe_path`)."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "MPDOCTOR_SESSION", "MPDOCTOR_MP_LOG", "PYTHONSTARTUP"):
        env.pop(name, None)
    if probe_path is None:
        probe_path = session is not None
    paths = [str(PROBE_ROOT)] if probe_path else []
    if extra_path:
        paths.append(extra_path)
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    if session is not None:
        env["MPDOCTOR_SESSION"] = str(session)
        env["MPDOCTOR_MP_LOG"] = mp_log
    return env


def _run(
    argv: list[str], env: dict, timeout: float, cwd: Path | None
) -> tuple[int, int, bytes, bytes]:
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=str(cwd or PROGRAMS),
        start_new_session=True,  # one process group: a timeout kills the whole tree
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return proc.pid, proc.returncode, out, err


def run_probed(
    python: Path,
    program: Path | str,
    *args: str,
    mp_log: str = "off",
    extra_path: str | None = None,
    timeout: float = 60,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> ProbedRun:
    session = Path(tempfile.mkdtemp(prefix="mpdoctor-probe-test-"))
    (session / "events").mkdir()
    full_env = {**probe_env(session, mp_log, extra_path), **(env or {})}
    try:
        pid, code, out, err = _run([str(python), str(program), *args], full_env, timeout, cwd)
        return ProbedRun(pid, code, out, err, session, read_events(session))
    finally:
        _remove_tree(session)


def run_unprobed(
    python: Path,
    program: Path | str,
    *args: str,
    extra_path: str | None = None,
    probe_path: bool = False,
    timeout: float = 60,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> ProbedRun:
    """The program without the probe (or with its directory on PYTHONPATH but no session)."""
    full_env = {**probe_env(None, extra_path=extra_path, probe_path=probe_path), **(env or {})}
    pid, code, out, err = _run([str(python), str(program), *args], full_env, timeout, cwd)
    return ProbedRun(pid, code, out, err, None)


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)  # a late helper process may still be writing


def site_line(program: Path, marker: str) -> int:
    """Line number of the line in `program` that contains `marker` (the expected `site`)."""
    for number, line in enumerate(program.read_text().splitlines(), 1):
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} not in {program}")
