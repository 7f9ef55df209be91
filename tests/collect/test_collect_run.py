"""run_target end to end in a fresh process (driver.py), as `mpdoctor run` will use it:
stdio inherited, exit status passed through, signals forwarded once, orphans reaped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from collect_helpers import TARGETS, driver_argv, run_driver


def plain(*args: str, input: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, *args], input=input, capture_output=True, timeout=60, check=False
    )


def test_stdin_stdout_stderr_are_the_target_s_own(tmp_path):
    run = run_driver(tmp_path, "script", str(TARGETS / "echo_io.py"), input=b"some input\n")
    assert run.returncode == 0
    assert run.stdout == b"out:some input\n"
    err = run.stderr.decode().splitlines()
    assert err[0] == "err-line"
    # The target's fds are the very pipes the driver got, not copies through mpdoctor.
    mine = {fd: os.readlink(f"/proc/self/fd/{fd}") for fd in (0, 1, 2)}
    assert all(line.startswith("fd") for line in err[1:])
    assert len({line.split("=", 1)[1] for line in err[1:]}) == 3  # three distinct pipes
    assert not any(line.split("=", 1)[1] in mine.values() for line in err[1:])


def test_stdin_reaches_an_interactive_target_directly(tmp_path):
    """The target reads stdin from the driver's own stdin (a pipe we keep writing to)."""
    summary = tmp_path / "s.json"
    proc = subprocess.Popen(
        driver_argv(
            summary,
            "command",
            sys.executable,
            "-c",
            "import sys\nfor line in sys.stdin: print('got', line.strip(), flush=True)",
        ),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdin and proc.stdout
        proc.stdin.write(b"one\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == b"got one\n"
        proc.stdin.write(b"two\n")
        proc.stdin.close()
        assert proc.stdout.read() == b"got two\n"
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()


def test_the_target_starts_with_an_empty_signal_mask_and_default_sigpipe(tmp_path):
    run = run_driver(tmp_path, "command", "sh", "-c", "grep -E '^Sig(Blk|Ign)' /proc/self/status")
    fields = dict(line.split(":\t") for line in run.stdout.decode().splitlines())
    assert int(fields["SigBlk"], 16) == 0
    assert not int(fields["SigIgn"], 16) & (1 << (signal.SIGPIPE - 1))


def test_the_target_gets_the_probe_path_and_session(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/user/path")
    run = run_driver(
        tmp_path,
        "command",
        "sh",
        "-c",
        'echo "$PYTHONPATH"; echo "$MPDOCTOR_SESSION"; echo "$MPDOCTOR_MP_LOG"',
    )
    path, session, level = run.stdout.decode().splitlines()
    assert path.endswith("/mpdoctor/_probe_root:/user/path")
    assert os.path.basename(session).startswith("mpdoctor-")
    assert not os.path.exists(session)  # cleaned up after the run
    assert level == "off"


@pytest.mark.parametrize("how", ["0", "1", "3", "255", "msg", "KILL", "TERM", "SEGV", "INT"])
def test_exit_status_is_what_plain_python_gives(tmp_path, how):
    expected = plain(str(TARGETS / "exit_with.py"), how)
    run = run_driver(tmp_path, "script", str(TARGETS / "exit_with.py"), how)
    assert run.returncode == expected.returncode
    assert run.stdout == expected.stdout
    assert run.stderr == expected.stderr
    outcome = run.summary["outcome"]
    if expected.returncode < 0:
        assert outcome["status"] == "signaled" and outcome["signal"] == -expected.returncode
    else:
        assert outcome["status"] == "exited" and outcome["exit_code"] == expected.returncode
    assert outcome["whose"] == "target"


def test_missing_script_is_python_s_own_error_and_exit_2(tmp_path):
    """Byte for byte: Python names itself by argv[0], "python" as a shell passes it."""
    expected = subprocess.run(
        ["python", "no_such_script.py"], capture_output=True, cwd=tmp_path, timeout=60
    )
    assert expected.stderr.startswith(b"python: ")
    run = run_driver(tmp_path, "script", "no_such_script.py")
    assert run.returncode == expected.returncode == 2
    assert run.stderr == expected.stderr
    # With --python, argv[0] is the text given, as when running that path directly.
    run = run_driver(tmp_path, "script", "no_such_script.py", options=["--python", sys.executable])
    assert run.stderr.startswith(sys.executable.encode() + b": ")


def test_missing_and_non_executable_commands_are_127_and_126(tmp_path):
    run = run_driver(tmp_path, "command", "no-such-command-mpdoctor")
    assert run.returncode == 127
    assert run.stderr == b"mpdoctor: 'no-such-command-mpdoctor': No such file or directory\n"
    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\n")
    run = run_driver(tmp_path, "command", str(tool))
    assert run.returncode == 126


def test_kill_term_of_the_monitor_is_forwarded_once(tmp_path):
    summary = tmp_path / "s.json"
    proc = subprocess.Popen(
        driver_argv(summary, "script", str(TARGETS / "term_handler.py")), stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout and proc.stdout.readline() == b"ready\n"
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 11  # exactly one SIGTERM reached the target
    finally:
        proc.kill()
        proc.wait()
    import json

    got = json.loads(summary.read_text())["signals"]
    assert [(s["name"], s["forwarded"], s["sender_pid"]) for s in got] == [
        ("SIGTERM", True, os.getpid())
    ]


def test_terminal_ctrl_c_reaches_the_target_once(tmp_path):
    """Ctrl-C on a pty goes to the whole foreground group; mpdoctor must not send it again."""
    import pty

    summary = tmp_path / "s.json"
    pid, master = pty.fork()
    if pid == 0:  # the child: session leader on the pty, foreground group
        try:
            os.execv(
                sys.executable, driver_argv(summary, "script", str(TARGETS / "sigint_counter.py"))
            )
        finally:
            os._exit(99)
    try:
        out = b""
        deadline = time.monotonic() + 30
        while b"ready" not in out and time.monotonic() < deadline:
            out += os.read(master, 1024)
        time.sleep(0.1)
        os.write(master, b"\x03")  # the terminal's intr character: SIGINT to the group
        _, status = os.waitpid(pid, 0)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(master)
    assert os.waitstatus_to_exitcode(status) == 21
    import json

    got = json.loads(summary.read_text())["signals"]
    assert [(s["name"], s["forwarded"]) for s in got] == [("SIGINT", False)]


def test_orphans_are_reaped_by_the_monitor_with_their_status(tmp_path):
    run = run_driver(tmp_path, "script", str(TARGETS / "orphan_maker.py"))
    assert run.returncode == 0
    pids = dict(part.split("=") for part in run.stdout.decode().split())
    grandchild = run.process(int(pids["grandchild"]))
    assert grandchild["exit_code"] == 7
    assert grandchild["exit_seen_by"] == "monitor-reap"
    assert grandchild["state"] == "exited"
    assert not grandchild["alive_after_main"]


def test_a_tree_that_outlives_main_is_frozen_and_ended(tmp_path):
    start = time.monotonic()
    run = run_driver(tmp_path, "script", str(TARGETS / "respawner.py"), timeout=60)
    elapsed = time.monotonic() - start
    assert run.returncode == 0  # main's own status, whatever was left behind
    supervisor = run.process(int(run.stdout.decode().split("=")[1]))
    assert supervisor["alive_after_main"] and supervisor["ended_by_mpdoctor"]
    assert supervisor["signal"] == signal.SIGKILL  # it ignored SIGTERM
    assert supervisor["exit_seen_by"] == "monitor-reap"
    assert elapsed < 15
    # The no-leftover fixture (tests/conftest.py) checks that nothing survived.


def test_timeout_ends_the_whole_tree_with_124(tmp_path):
    run = run_driver(
        tmp_path,
        "command",
        sys.executable,
        "-c",
        "import time, os\nos.fork()\ntime.sleep(30)",
        options=["--timeout", "0.5"],
    )
    assert run.returncode == 124
    outcome = run.summary["outcome"]
    assert outcome["status"] == "timeout" and outcome["whose"] == "mpdoctor"
    assert run.main["signal"] == signal.SIGTERM
    assert all(p["ended_by_mpdoctor"] for p in run.summary["processes"])


def test_keep_orphans_leaves_them_running(tmp_path):
    run = run_driver(
        tmp_path,
        "command",
        "sh",
        "-c",
        "sleep 30 >/dev/null 2>&1 & echo $!",
        options=["--keep-orphans"],
        timeout=30,
    )
    orphan = int(run.stdout)
    try:
        assert run.returncode == 0
        assert run.process(orphan)["alive_after_main"]
        assert not run.process(orphan)["ended_by_mpdoctor"]
        os.kill(orphan, 0)  # still alive
    finally:
        os.kill(orphan, signal.SIGKILL)


def test_monitor_notes_a_python_that_keeps_the_probe_out(tmp_path):
    run = run_driver(tmp_path, "command", sys.executable, "-I", "-c", "pass")
    assert run.returncode == 0
    assert any("-I" in note for note in run.summary["notes"])


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_probe_events_and_samples_join_into_one_process_each(tmp_path, method):
    """With the real probe: the killed worker is one process with its role, pool and signal."""
    run = run_driver(
        tmp_path,
        "script",
        str(TARGETS / "pool_worker_killed.py"),
        method,
        options=["--python", sys.executable],
    )
    assert run.returncode == 0 and run.stdout == b"done\n"
    procs = run.summary["processes"]
    keys = [(p["pid"], p["create_time"]) for p in procs]
    assert len(keys) == len(set(keys))
    assert all(p["probed"] for p in procs)
    killed = [p for p in procs if p["signal"] == signal.SIGKILL]
    assert len(killed) == 1
    (worker,) = killed
    assert worker["started_as"] == "pool-worker" and worker["pool_id"]
    assert worker["exit_seen_by"] == "parent-probe" and worker["start_method"] == method
    assert [k["via"] for k in worker["kills"]] == ["user"]
    main = run.main
    assert main["started_s"] < 0.05  # create_time has 10 ms ticks; the clock skew too
    assert main["python"] == ".".join(map(str, sys.version_info[:3]))
    assert all(0 <= p["started_s"] <= run.summary["duration_s"] for p in procs)
    helpers = {p["started_as"] for p in procs} - {None, "pool-worker"}
    expected = {
        "fork": set(),
        "spawn": {"resource-tracker"},
        "forkserver": {"resource-tracker", "forkserver"},
    }[method]
    assert helpers == expected


def test_portable_paths_pass_status_and_forward_kill(tmp_path):
    """No sigtimedwait (handlers queue the signals) and psutil instead of /proc readers."""
    summary = tmp_path / "s.json"
    proc = subprocess.Popen(
        driver_argv(summary, "--portable", "script", str(TARGETS / "term_handler.py")),
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout and proc.stdout.readline() == b"ready\n"
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 11
    finally:
        proc.kill()
        proc.wait()
    import json

    data = json.loads(summary.read_text())
    assert [(s["name"], s["forwarded"]) for s in data["signals"]] == [("SIGTERM", True)]
    assert data["outcome"]["exit_code"] == 11


def test_portable_paths_see_the_tree(tmp_path):
    run = run_driver(tmp_path, "script", str(TARGETS / "orphan_maker.py"), options=["--portable"])
    assert run.returncode == 0
    pids = dict(part.split("=") for part in run.stdout.decode().split())
    grandchild = run.process(int(pids["grandchild"]))
    assert grandchild["exit_code"] == 7 and grandchild["cmdline"]
