"""Do no harm: under `mpdoctor run` a program behaves as under plain `python`.

Same stdout and stderr bytes (with `--mp-log off`, and `--quiet` so mpdoctor adds nothing when it
finds nothing), the same exit status as a shell sees it (codes and signal deaths), stdin passed
through, Ctrl-C delivered once, `kill -TERM` of mpdoctor forwarded.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from cli_support import ROOT, mpdoctor_argv, run_mpdoctor, run_plain

PYTHON = "python"  # what mpdoctor runs by default: `python` on PATH

EXIT_PROGRAMS = {
    "exit-0": "print('fine')",
    "exit-1": "raise ValueError('bad value')",
    "exit-3": "import sys; sys.exit(3)",
    "exit-255": "import sys; print('out'); sys.exit(255)",
    "exit-message": "import sys; sys.exit('fatal: no config')",
    "sigkill": "import os, signal; print('x', flush=True); os.kill(os.getpid(), signal.SIGKILL)",
    "sigterm": "import os, signal; os.kill(os.getpid(), signal.SIGTERM)",
    "sigsegv": "import ctypes; ctypes.string_at(0)",
    "keyboard-interrupt": "raise KeyboardInterrupt",
    "child-crash": textwrap.dedent(
        """
        import multiprocessing as mp
        def work(n):
            return 1 / n
        if __name__ == '__main__':
            p = mp.Process(target=work, args=(0,))
            p.start(); p.join()
            print('exitcode', p.exitcode)
        """
    ),
    "start-raises": textwrap.dedent(
        """
        import multiprocessing as mp
        if __name__ == '__main__':
            mp.set_start_method('spawn')
            p = mp.Process(target=lambda: None)
            p.start()
        """
    ),
}


def _write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    return path


def _without_addresses(text: bytes) -> bytes:
    """Object addresses (`at 0x7f...`) differ from run to run, with or without mpdoctor."""
    return re.sub(rb"0x[0-9a-f]+", b"0x?", text)


def _shell_status(argv: list[str], cwd: Path) -> tuple[str, bytes, bytes]:
    """What a shell prints for `$?`, with the command's own output."""
    script = " ".join(f"'{a}'" for a in argv) + '; echo "status=$?" >&2'
    proc = subprocess.run(["sh", "-c", script], capture_output=True, timeout=60, cwd=str(cwd))
    out, err = proc.stdout, proc.stderr
    status_line = err.rsplit(b"status=", 1)[1].strip().decode()
    return status_line, out, _without_addresses(err.rsplit(b"status=", 1)[0])


@pytest.mark.parametrize("name", sorted(EXIT_PROGRAMS))
def test_exit_status_and_output_bytes_match_plain_python(tmp_path, name):
    script = _write(tmp_path, name, EXIT_PROGRAMS[name])
    plain = _shell_status([PYTHON, str(script)], tmp_path)
    under = _shell_status(
        [*mpdoctor_argv("run", "--mp-log", "off", "--quiet"), str(script)], tmp_path
    )
    assert under[0] == plain[0]  # exit status as the shell sees it (128+N for signal N)
    assert under[1] == plain[1]  # stdout bytes
    if name in ("child-crash", "sigkill", "sigterm", "sigsegv", "start-raises"):
        # the program's own stderr comes first, byte for byte; then the finding (a crashed
        # child, or the lambda start-raises could not send)
        assert under[2].startswith(plain[2])
        if name == "start-raises":
            assert b"unpicklable-callable" in under[2][len(plain[2]) :]
    else:
        assert under[2] == plain[2]


def test_signal_death_is_reproduced_not_mapped(tmp_path):
    script = _write(tmp_path, "term", EXIT_PROGRAMS["sigterm"])
    result = run_mpdoctor(["run", "--mp-log", "off", str(script)])
    assert result.returncode == -signal.SIGTERM  # mpdoctor died by the same signal


def test_stdin_is_passed_through(tmp_path):
    script = _write(
        tmp_path, "echo", "import sys\nfor line in sys.stdin:\n    print(line.strip().upper())"
    )
    result = run_mpdoctor(["run", "--mp-log", "off", "-q", str(script)], input=b"ab\ncd\n")
    assert result.stdout == b"AB\nCD\n"
    assert result.returncode == 0


def test_arguments_after_the_script_belong_to_it(tmp_path):
    script = _write(tmp_path, "args", "import sys; print(sys.argv[1:])")
    result = run_mpdoctor(["run", "-q", str(script), "--report", "x", "-m", "--", "-q"])
    assert result.stdout == b"['--report', 'x', '-m', '--', '-q']\n"


def test_module_mode_runs_like_python_dash_m(tmp_path):
    (tmp_path / "pkgmod.py").write_text("import sys; print(__name__, sys.argv[1:])")
    result = run_mpdoctor(["run", "-q", "-m", "pkgmod", "a", "--quiet"], cwd=tmp_path)
    assert result.stdout == b"__main__ ['a', '--quiet']\n"
    assert result.returncode == 0


def test_directory_with_dunder_main_runs(tmp_path):
    app = tmp_path / "app dir"
    app.mkdir()
    (app / "__main__.py").write_text("print('from a directory')")
    result = run_mpdoctor(["run", "-q", str(app)])
    assert result.stdout == b"from a directory\n"


def test_script_path_with_spaces_and_non_ascii(tmp_path):
    script = _write(tmp_path, "données de test", "print('ok')")
    result = run_mpdoctor(["run", "-q", str(script)])
    assert (result.returncode, result.stdout) == (0, b"ok\n")


def test_missing_script_is_pythons_own_error(tmp_path):
    missing = tmp_path / "nope.py"
    plain = run_plain([PYTHON, str(missing)])
    under = run_mpdoctor(["run", "-q", str(missing)])
    assert under.returncode == plain.returncode == 2
    assert under.stderr.startswith(plain.stderr)


def test_program_closing_its_stdout(tmp_path):
    script = _write(tmp_path, "closer", "import os\nprint('a', flush=True)\nos.close(1)\n")
    result = run_mpdoctor(["run", "-q", "--mp-log", "off", str(script)])
    assert (result.returncode, result.stdout) == (0, b"a\n")


def test_program_writing_100_mb(tmp_path):
    script = _write(
        tmp_path,
        "big",
        "import sys\nchunk = b'x' * (1 << 20)\n"
        "for _ in range(100):\n    sys.stdout.buffer.write(chunk)\n",
    )
    argv = [*mpdoctor_argv("run", "-q", "--mp-log", "off", str(script))]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        total = 0
        while block := proc.stdout.read(1 << 16):
            total += len(block)
        proc.wait(timeout=60)
    assert (proc.returncode, total) == (0, 100 << 20)


def _read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while needle not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    return data


COUNT_SIGNALS = textwrap.dedent(
    """
    import signal, sys, time
    seen = []
    def handler(signum, frame):
        seen.append(signum)
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    print('ready', flush=True)
    deadline = time.time() + 10
    while not seen and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(1.0)  # a second delivery would arrive now
    print('signals', len(seen), flush=True)
    """
)


def test_ctrl_c_on_a_terminal_reaches_the_program_once(tmp_path):
    script = _write(tmp_path, "count", COUNT_SIGNALS)
    pid, master = pty.fork()
    if pid == 0:  # the child: mpdoctor on a fresh controlling terminal, as a user runs it
        try:
            os.execv(sys.executable, mpdoctor_argv("run", "-q", "--mp-log", "off", str(script)))
        finally:
            os._exit(127)
    try:
        assert b"ready" in _read_until(master, b"ready", 20)
        os.write(master, b"\x03")  # Ctrl-C: the terminal signals the foreground group
        output = _read_until(master, b"signals", 20)
        output += _read_until(master, b"\n", 5)  # the rest of that line
        assert re.search(rb"signals \d+", output), output
        assert b"signals 1" in output, output
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(master)


def test_kill_term_to_mpdoctor_is_forwarded_once(tmp_path):
    script = _write(tmp_path, "count", COUNT_SIGNALS)
    argv = mpdoctor_argv("run", "-q", "--mp-log", "off", str(script))
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout.readline() == b"ready\n"
        proc.send_signal(signal.SIGTERM)  # as `kill` or a CI cancel would
        out, _ = proc.communicate(timeout=30)
    assert out == b"signals 1\n"
    assert proc.returncode == 0  # the program handled it and exited 0


WAIT_FOR_SIGNAL = """
import sys, time
print('ready', flush=True)
time.sleep(30)
sys.exit(3)
"""


@pytest.mark.parametrize("name", ["SIGALRM", "SIGVTALRM", "SIGPROF", "SIGXCPU", "SIGRTMIN"])
def test_any_ending_signal_to_mpdoctor_is_forwarded_and_its_death_reproduced(tmp_path, name):
    """A signal whose default action ends a process must not end mpdoctor alone, leaving its
    program running unwatched and no report: it goes to the program, whose death by it mpdoctor
    then shows and repeats."""
    signo = getattr(signal, name)
    script = _write(tmp_path, "wait", WAIT_FOR_SIGNAL)
    report = tmp_path / "r.json"
    argv = mpdoctor_argv("run", "--mp-log", "off", "--report", str(report), str(script))
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout.readline() == b"ready\n"
        proc.send_signal(signo)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signo, err
    outcome = json.loads(report.read_text())["outcome"]
    assert (outcome["status"], outcome["signal"]) == ("signaled", signo), outcome


@pytest.mark.parametrize("flag", ["-I", "-S", "-E"])
def test_isolated_python_runs_without_probe_and_says_so(tmp_path, flag):
    script = _write(tmp_path, "plain", "print('ran')")
    result = run_mpdoctor(["run", "--mp-log", "off", "--", PYTHON, flag, str(script)])
    assert (result.returncode, result.stdout) == (0, b"ran\n")
    assert flag.encode() in result.stderr and b"psutil" in result.stderr


def _backdate(session: Path) -> None:
    """As if the session had been quiet for an hour."""
    then = time.time() - 3600
    for path in [*session.rglob("*"), session]:
        os.utime(path, (then, then), follow_symlinks=False)


def test_a_killed_runs_session_is_removed_by_a_later_run_once_its_program_has_ended(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    waiting = _write(
        tmp_path, "waiting", "import sys; print('ready', flush=True); sys.stdin.read()"
    )
    empty = _write(tmp_path, "empty", "")
    argv = mpdoctor_argv("run", "--mp-log", "off", str(waiting))
    with subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    ) as proc:
        assert proc.stdout.readline() == b"ready\n"
        [session] = tmp.glob("mpdoctor-*")
        [events] = (session / "events").iterdir()
        program = int(events.name.split("-")[0])
        deadline = time.monotonic() + 10
        while not (session / "owner").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.kill()  # mpdoctor dies without cleaning up; its program lives on
        proc.wait()
        _backdate(session)
        assert run_mpdoctor(["run", "-q", str(empty)], env=env).returncode == 0
        assert session.exists()  # its program still runs: `mpdoctor inspect` needs the session
        proc.stdin.close()  # the program reads EOF and exits
        while os.path.exists(f"/proc/{program}") and time.monotonic() < deadline:
            time.sleep(0.01)
    _backdate(session)
    assert run_mpdoctor(["run", "-q", str(empty)], env=env).returncode == 0
    assert not session.exists()
    assert list(tmp.iterdir()) == []  # and each later run removed its own


def test_a_semaphore_whose_creator_was_killed_before_registering_it_is_unlinked(tmp_path):
    """Plain python leaves it in /dev/shm until reboot (the resource tracker never heard of
    it); mpdoctor unlinks it once the tree is gone, and says so."""
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm")
    program = ROOT / "tests" / "e2e" / "programs" / "killed_while_creating_a_lock.py"
    plain = run_plain([sys.executable, str(program)])
    name, code = plain.stdout.decode().split()
    leaked = Path("/dev/shm") / ("sem." + name.lstrip("/"))
    assert leaked.exists() and code == "-9"
    leaked.unlink()
    result = run_mpdoctor(["run", "--mp-log", "off", str(program)])
    name, code = result.stdout.decode().split()
    assert (result.returncode, code) == (0, "-9")
    assert not (Path("/dev/shm") / ("sem." + name.lstrip("/"))).exists()
    assert f"unlinked 1 named semaphore the program left in /dev/shm ({name})" in (
        result.stderr.decode()
    )
