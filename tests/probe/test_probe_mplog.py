"""MPDOCTOR_MP_LOG: multiprocessing's log lines, each exactly once, under every start method."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest
from probe_support import (
    PROGRAMS,
    START_METHODS,
    SUPPORTED,
    interpreter_params,
    run_probed,
    run_unprobed,
)

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux probe contract"),
]

PYTHONS = interpreter_params(SUPPORTED)
PROGRAM = PROGRAMS / "mplog.py"

# Lines that the program produces exactly once whatever the timing of the pool workers.
ONCE = [
    "[INFO/Solo] child process calling self.run()",
    "[INFO/Solo] process shutting down",
    "[INFO/Solo] process exiting with exitcode 0",
    "[INFO/MainProcess] process shutting down",
]


def _log_lines(stderr: bytes) -> Counter:
    return Counter(line for line in stderr.decode().splitlines() if line.startswith("["))


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_each_line_once(python: Path, method: str) -> None:
    run = run_probed(python, PROGRAM, method, mp_log="info")
    assert run.returncode == 0, run.text()
    assert run.stdout == b"[1, 2, 3]\n"
    lines = _log_lines(run.stderr)
    assert [line for line, n in lines.items() if n > 1] == []
    for line in ONCE:
        assert lines[line] == 1, run.stderr.decode()


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_debug_level_reaches_children_once(python: Path, method: str) -> None:
    run = run_probed(python, PROGRAM, method, mp_log="debug")
    assert run.returncode == 0, run.text()
    lines = _log_lines(run.stderr)
    assert lines["[DEBUG/MainProcess] added worker"] == 2  # two workers: logged twice by design
    for line in ONCE:
        assert lines[line] == 1, run.stderr.decode()
    assert not [line for line in lines if line.startswith("[Level 5/")]  # subdebug not asked


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_program_calling_log_to_stderr_gets_no_duplicates(python: Path, method: str) -> None:
    run = run_probed(python, PROGRAM, method, "self", mp_log="info")
    assert run.returncode == 0, run.text()
    lines = _log_lines(run.stderr)
    assert [line for line, n in lines.items() if n > 1] == []
    for line in ONCE:
        assert lines[line] == 1, run.stderr.decode()
    plain = run_unprobed(python, PROGRAM, method, "self")
    plain_lines = _log_lines(plain.stderr)
    for line in ONCE:
        assert plain_lines[line] == 1


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_off_leaves_the_programs_own_logging_alone(python: Path, method: str) -> None:
    run = run_probed(python, PROGRAM, method, mp_log="off")
    assert (run.returncode, run.stdout, run.stderr) == (0, b"[1, 2, 3]\n", b"")
    run = run_probed(python, PROGRAM, method, "self", mp_log="off")
    lines = _log_lines(run.stderr)
    assert [line for line, n in lines.items() if n > 1] == []
    for line in ONCE:
        assert lines[line] == 1, run.stderr.decode()
