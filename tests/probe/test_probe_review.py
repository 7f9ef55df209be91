"""Regression tests from an independent review of the pickling work: programs whose output,
exit status or memory the probe once changed. Each runs with and without the probe."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pytest
from probe_support import PROGRAMS, interpreter_params, probe_env, run_probed, run_unprobed

pytestmark = pytest.mark.timeout(120)

PYTHONS = interpreter_params(("3.8", "3.11", "3.13"))


def _same(python, name: str) -> None:
    probed = run_probed(python, PROGRAMS / name)
    plain = run_unprobed(python, PROGRAMS / name)

    def clean(text: bytes) -> bytes:
        return re.sub(rb"0x[0-9a-f]+", b"0x?", text)

    assert probed.returncode == plain.returncode, probed.text()
    assert probed.stdout == plain.stdout
    assert clean(probed.stderr) == clean(plain.stderr)


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize(
    "name",
    [
        "harmless_exception_init.py",  # was: an extra print from rebuilding the exception
        "harmless_log_filter.py",  # was: TypeError from the logging filter, exit 1
        "harmless_uncaught_len.py",  # was: "Exception ignored in atexit callback" on 3.13
        "harmless_deep_args.py",  # was: a segmentation fault on 3.8
        "harmless_getstate.py",  # was: the program's __getstate__ called at exit
        "harmless_failed_result.py",  # was: the failed 50 MB result kept alive in the worker
    ],
)
def test_program_unchanged(python, name: str) -> None:
    _same(python, name)


@pytest.mark.parametrize("python", PYTHONS)
def test_ctrl_c_during_pool_tasks_is_no_respawn_alert(python, tmp_path) -> None:
    """A Ctrl-C's KeyboardInterrupt escapes every worker: no alert (the monitor would stop the
    program's own clean-up as a respawn loop)."""
    session = tmp_path / "session"
    (session / "events").mkdir(parents=True)
    (session / "alerts").mkdir()
    program = tmp_path / "ctrl_c.py"
    program.write_text(
        "import multiprocessing as mp, time\n"
        "def work(x):\n    time.sleep(5)\n    return x\n"
        "if __name__ == '__main__':\n"
        "    pool = mp.Pool(4)\n"
        "    try:\n        pool.map(work, range(4))\n"
        "    except KeyboardInterrupt:\n        pool.terminate(); pool.join(); print('clean')\n"
    )
    proc = subprocess.Popen(
        [str(python), str(program)],
        env=probe_env(session),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.5)  # the workers are in their tasks
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        try:
            # Pool's own clean-up after Ctrl-C sometimes hangs, with or without the probe
            # (CPython's terminate race): only the alerts matter here.
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert os.listdir(session / "alerts") == []


WINDOWS_LIKE = (
    "import multiprocessing as mp\n"
    "m = 'fork' if 'fork' in mp.get_all_start_methods() else 'spawn'\n"
    "print(mp.get_all_start_methods(), mp.get_context(m).get_start_method())\n"
)


@pytest.mark.parametrize("python", PYTHONS)
def test_windows_like_methods_are_consistent(python, tmp_path) -> None:
    session = tmp_path / "session"
    (session / "events").mkdir(parents=True)
    env = {**probe_env(session), "MPDOCTOR_START_METHODS": "spawn"}
    out = subprocess.run(
        [str(python), "-c", WINDOWS_LIKE], env=env, capture_output=True, timeout=60, check=True
    ).stdout
    assert out.strip() == b"['spawn'] spawn"
