"""`mpdoctor check` through the real CLI: static findings, the start-method matrix, bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cli_support import ROOT, run_mpdoctor

pytestmark = pytest.mark.timeout(180)

SAMPLES = ROOT / "samples"
PROGRAMS = Path(__file__).resolve().parent / "programs"


def _check(*args: str, cwd: Path | None = None):
    result = run_mpdoctor(["check", "--color", "never", *args], timeout=150, cwd=cwd)
    return result.returncode, result.stderr.decode(errors="replace")


def _rows(stderr: str) -> dict[str, str]:
    """column -> its matrix row's text."""
    rows = {}
    for line in stderr.splitlines():
        first = line.split(" ", 1)[0]
        if first in ("fork", "spawn", "forkserver", "windows-like") and len(line.split()) > 1:
            rows[first] = line
    return rows


def test_a_correct_program_has_no_finding(tmp_path):
    code, err = _check(str(SAMPLES / "pool_map.py"), cwd=tmp_path)
    assert code == 0, err
    assert "no findings" in err


def test_static_finding_names_the_line_and_exits_1(tmp_path):
    code, err = _check(str(PROGRAMS / "guardless_pool.py"), cwd=tmp_path)
    assert code == 1
    assert "missing-main-guard" in err and "guardless_pool.py:11 (module-level)" in err
    assert "remediation" in err


def test_matrix_shows_where_it_breaks(tmp_path):
    code, err = _check("--matrix", str(PROGRAMS / "guardless_pool.py"), cwd=tmp_path)
    assert code == 1
    rows = _rows(err)
    assert " ok " in rows["fork"]
    for column in ("spawn", "forkserver", "windows-like"):
        assert "FAILS" in rows[column] and "missing-main-guard" in rows[column], rows
    assert "in: spawn, forkserver, windows-like" in err
    assert "[1, 2, 3]" not in err  # the program's own output is kept out of the report


def test_matrix_all_ok_for_a_portable_program(tmp_path):
    code, err = _check("--matrix", str(SAMPLES / "executor_map.py"), cwd=tmp_path)
    assert code == 0, err
    assert all(" ok " in row for row in _rows(err).values()) and len(_rows(err)) == 4


def test_windows_like_column_has_no_fork(tmp_path):
    code, err = _check("--matrix", str(PROGRAMS / "explicit_fork.py"), cwd=tmp_path)
    assert code == 1
    rows = _rows(err)
    assert all(" ok " in rows[c] for c in ("fork", "spawn", "forkserver")), rows
    assert "FAILS" in rows["windows-like"]
    assert "cannot find context for 'fork'" in err


def test_matrix_timeout_bounds_each_run(tmp_path):
    script = tmp_path / "sleeper.py"
    script.write_text("import time\nif __name__ == '__main__':\n    time.sleep(60)\n")
    code, err = _check("--matrix", "--timeout", "1", str(script), cwd=tmp_path)
    assert code == 1
    assert all("timeout" in row for row in _rows(err).values()), err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "No such file or directory"),
        ("def (:\n", "syntax error"),
        (b"\xff\xfe not utf-8", "cannot read"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, content, message):
    script = tmp_path / "bad.py"
    if isinstance(content, str):
        script.write_text(content)
    elif isinstance(content, bytes):
        script.write_bytes(content)
    code, err = _check(str(script), cwd=tmp_path)
    assert code == 2
    assert err.startswith("mpdoctor: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_directory_without_main_is_a_usage_error(tmp_path):
    code, err = _check(str(tmp_path), cwd=tmp_path)
    assert code == 2 and "without __main__.py" in err


def test_matrix_columns_the_probe_could_not_apply_are_not_ok(tmp_path):
    """An interpreter that keeps the probe out (-E here; Python 3.7 alike): no column ran under
    the start method it names, so none is ok."""
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} -E "$@"\n')
    python.chmod(0o755)
    code, err = _check("--matrix", "--python", str(python), str(SAMPLES / "executor_map.py"))
    assert code == 1, err
    rows = _rows(err)
    assert len(rows) == 4 and all("NOT RUN" in row for row in rows.values()), err
    assert " ok " not in err
    assert "fork, spawn, forkserver, windows-like: not run as asked" in err
