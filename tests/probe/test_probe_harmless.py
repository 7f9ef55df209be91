"""Do no harm: with MPDOCTOR_MP_LOG=off a program's output bytes and exit code are unchanged.

Each program runs twice, without and with the probe, and stdout, stderr and the exit status
must be identical (no extra traceback frame, no changed message, no reordered atexit output).
Older interpreters (2.7, 3.6, 3.7) must stay silent and write no events.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from probe_support import (
    OLD,
    PROGRAMS,
    START_METHODS,
    SUPPORTED,
    ProbedRun,
    interpreter_params,
    run_probed,
    run_unprobed,
)

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux probe contract"),
]

PYTHONS = interpreter_params(SUPPORTED)


def assert_same(python: Path, program: str, *args: str) -> ProbedRun:
    plain = run_unprobed(python, PROGRAMS / program, *args)
    probed = run_probed(python, PROGRAMS / program, *args)
    assert probed.stderr.decode() == plain.stderr.decode()
    assert probed.stdout.decode() == plain.stdout.decode()
    assert probed.returncode == plain.returncode
    assert probed.of("start"), "the probe ran"
    return plain


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_crashing_child(python: Path, method: str) -> None:
    plain = assert_same(python, "child_raises.py", method)
    assert b"KeyError: 'missing'" in plain.stderr


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_print_exc_starting_a_thread_in_a_child(python: Path, method: str) -> None:
    # no caller frame: the probe's print_exc must not fail where the original prints
    plain = assert_same(python, "print_exc_thread.py", method)
    assert plain.stderr.count(b"NoneType: None") == 2


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_exception_in_main(python: Path, method: str) -> None:
    plain = assert_same(python, "main_raises.py", method)
    assert plain.returncode == 1 and b"RuntimeError: main failed with 0" in plain.stderr


@pytest.mark.parametrize("method", ("spawn", "forkserver"))
@pytest.mark.parametrize("python", PYTHONS)
def test_start_raising_in_parent(python: Path, method: str) -> None:
    plain = assert_same(python, "start_raises.py", method)
    assert plain.returncode == 1 and b"local" in plain.stderr
    assert b"caught: cannot pickle '_thread.lock' object" in plain.stdout


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_sigkilled_child(python: Path, method: str) -> None:
    assert_same(python, "child_killed.py", method)


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_child_exit_codes(python: Path, method: str) -> None:
    plain = assert_same(python, "child_exit_codes.py", method)
    assert plain.stdout == b"three 3\nmessage 1\nos._exit 7\nsigterm -15\n"


@pytest.mark.parametrize("code", ["0", "1", "3", "255", "a message"])
@pytest.mark.parametrize("python", PYTHONS)
def test_sys_exit_codes(python: Path, code: str) -> None:
    plain = assert_same(python, "exit_codes.py", code)
    assert plain.returncode == (int(code) if code.isdigit() else 1)


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_atexit_order(python: Path, method: str) -> None:
    plain = assert_same(python, "atexit_order.py", method)
    assert plain.stdout.index(b"atexit 4") < plain.stdout.index(b"atexit 1")


@pytest.mark.parametrize("python", PYTHONS)
def test_exception_inside_a_hooked_import_keeps_its_traceback(python: Path, tmp_path: Path) -> None:
    """A module the probe hooks that raises while executing: the same traceback, no probe frame.

    The standard library never does; the probe is pointed at a fake "standard library" dir to
    make its import hook wrap a module that raises.
    """
    (tmp_path / "hooked_boom.py").write_text("x = 1\n\n\ndef f():\n    return 1 / 0\n\n\nf()\n")
    program = tmp_path / "importer.py"
    program.write_text(
        "import os, sys\n"
        "if 'MPDOCTOR_SESSION' in os.environ:\n"
        "    from _mpdoctor_probe import _mp\n"
        "    _mp._STDLIB = os.path.dirname(os.path.abspath(__file__)) + os.sep\n"
        "    _mp.watch('hooked_boom')\n"
        "import hooked_boom\n"
    )
    plain = run_unprobed(python, program, cwd=tmp_path)
    probed = run_probed(python, program, cwd=tmp_path)
    assert b"ZeroDivisionError" in plain.stderr
    assert probed.stderr.decode() == plain.stderr.decode()
    assert probed.returncode == plain.returncode == 1


@pytest.mark.parametrize("python", PYTHONS)
def test_user_module_shadowing_multiprocessing_is_left_alone(python: Path, tmp_path: Path) -> None:
    (tmp_path / "multiprocessing.py").write_text("print('my own multiprocessing')\n1 / 0\n")
    program = tmp_path / "main.py"
    program.write_text("import multiprocessing\n")
    plain = run_unprobed(python, program, cwd=tmp_path)
    probed = run_probed(python, program, cwd=tmp_path)
    assert plain.stdout == b"my own multiprocessing\n" and b"ZeroDivisionError" in plain.stderr
    assert (probed.stdout, probed.stderr, probed.returncode) == (
        plain.stdout,
        plain.stderr,
        plain.returncode,
    )
    assert [e["e"] for e in probed.events] == ["start"]


@pytest.mark.parametrize("python", interpreter_params(OLD))
def test_old_pythons_silent_and_harmless(python: Path) -> None:
    plain = run_unprobed(python, PROGRAMS / "legacy.py")
    probed = run_probed(python, PROGRAMS / "legacy.py")
    assert plain.returncode == 3 and b"legacy child failed" in plain.stderr
    assert (probed.stdout, probed.stderr, probed.returncode) == (
        plain.stdout,
        plain.stderr,
        plain.returncode,
    )
    assert probed.events == []
