"""`mpdoctor inspect PID` on live trees it did not start: hung samples run with plain python,
a tree started by `mpdoctor run` (probe stacks), the watch, and every kind of bad input."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
from cli_support import ROOT, end_group, mpdoctor_argv, run_mpdoctor

from mpdoctor.collect import pyspy
from mpdoctor.render.json_report import report_schema

sys.path.insert(0, str(ROOT / "tests" / "donoharm"))
from sample_meta import read_sample

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc"),
]

SAMPLES = ROOT / "samples"
HAS_PYSPY = pyspy.executable() is not None and pyspy.ptrace_refusal(os.getpid()) is None


def _start(*argv: str) -> subprocess.Popen[bytes]:
    """A program in its own session (killed as a group), as a user would have started it."""
    return subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd=str(ROOT),
    )


def _kill(proc: subprocess.Popen[bytes]) -> None:
    end_group(proc.pid, proc)


def _inspect(pid: int, *args: str, timeout: float = 30):
    result = run_mpdoctor(["inspect", str(pid), *args], timeout=timeout)
    return result, result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace")


def _until(pid: int, finding: str, *args: str, within: float = 15.0):
    """Inspect until `finding` shows (the hang forms a moment after the start); the last
    result and its JSON."""
    deadline = time.monotonic() + within
    while True:
        result, out, err = _inspect(pid, "--format", "json", *args)
        assert result.returncode in (0, 1), err
        data = json.loads(out)
        if finding in {f["id"] for f in data["findings"]} or time.monotonic() > deadline:
            return result, data
        time.sleep(0.2)


def _cited(data: dict) -> set[tuple[str, int, str]]:
    return {(Path(loc["file"]).name, loc["line"], loc["role"])
            for f in data["findings"] for loc in f["locations"]}  # fmt: skip


def test_join_deadlock_of_a_plain_python_is_proven_from_outside() -> None:
    sample = read_sample(SAMPLES / "join_deadlock.py")
    proc = _start(sys.executable, str(sample.path))
    try:
        result, data = _until(proc.pid, "join-deadlock")
        jsonschema.validate(data, report_schema())
        assert result.returncode == 1
        deadlock = [f for f in data["findings"] if f["id"] == "join-deadlock"]
        assert deadlock and deadlock[0]["certainty"] == "proven", data["findings"]
        assert data["outcome"]["status"] == "running"
        root = data["processes"][0]
        assert root["pid"] == proc.pid and root["role"] == "main"
        assert root["age_s"] > 0 and root["num_threads"] >= 1 and root["rss_bytes"] > 0
        assert root["cpu_percent"] is not None and root["wait"]["kind"] == "join"
        assert [p["role"] for p in data["processes"][1:]] == ["fork-child"]
        if HAS_PYSPY:
            assert any(n.startswith("stacks: py-spy") for n in data["notes"]), data["notes"]
            for line in sample.marked_lines:
                assert (sample.path.name, line, "blocked") in _cited(data)
        assert "ZeroDivisionError" not in json.dumps(data)
    finally:
        _kill(proc)


def test_orphaned_wait_and_the_producer_s_exit_code_from_outside() -> None:
    sample = read_sample(SAMPLES / "orphaned_wait.py")
    proc = _start(sys.executable, str(sample.path))
    try:
        result, data = _until(proc.pid, "orphaned-wait")
        jsonschema.validate(data, report_schema())
        assert result.returncode == 1
        ids = {f["id"]: f for f in data["findings"]}
        assert ids["orphaned-wait"]["certainty"] == "proven"
        # the producer is a zombie: its exit status, read from /proc, is named
        assert "exited with code 1" in ids["orphaned-wait"]["message"]
        states = {p["pid"]: p["state"] for p in data["processes"]}
        assert "zombie" in states.values()
        # no command line left, but its name says it is a Python (fork or spawn: unknown)
        zombies = [p["role"] for p in data["processes"] if p["state"] == "zombie"]
        assert zombies and all(role == "python" for role in zombies), data["processes"]
        if HAS_PYSPY:
            for line in sample.marked_lines:
                assert (sample.path.name, line, "blocked") in _cited(data)
    finally:
        _kill(proc)


def test_text_report_goes_to_stdout_with_the_tree_the_waits_and_the_remedy(tmp_path) -> None:
    proc = _start(sys.executable, str(SAMPLES / "join_deadlock.py"))
    report = tmp_path / "inspect.json"
    try:
        _until(proc.pid, "join-deadlock", "--no-stacks")
        result, out, err = _inspect(proc.pid, "--color", "never", "--report", str(report))
        assert result.returncode == 1, err
        assert err == ""
        assert f"main {proc.pid} " in out and "fork-child" in out
        assert "join-deadlock" in out and "remediation" in out
        assert "cpu " in out and "rss " in out and "age " in out
        assert "\x1b[" not in out
        saved = json.loads(report.read_text())
        jsonschema.validate(saved, report_schema())
        assert "join-deadlock" in {f["id"] for f in saved["findings"]}
    finally:
        _kill(proc)


def test_a_stalled_tree_is_no_progress_a_warning_with_exit_0() -> None:
    proc = _start(sys.executable, str(SAMPLES / "stalled_producer.py"))
    try:
        time.sleep(1.0)
        result, out, err = _inspect(proc.pid, "--format", "json", "--interval", "0.3")
        data = json.loads(out)
        ids = {f["id"]: f for f in data["findings"]}
        assert result.returncode == 0, err
        assert ids.get("no-progress", {}).get("severity") == "warning", data["findings"]
        assert "join-deadlock" not in ids and "orphaned-wait" not in ids
    finally:
        _kill(proc)


def test_a_busy_tree_has_no_hang_finding_and_its_cpu_is_measured() -> None:
    busy = "import time\nend = time.time() + 30\nwhile time.time() < end: pass\n"
    proc = _start(sys.executable, "-c", busy)
    try:
        time.sleep(0.3)
        result, out, err = _inspect(proc.pid, "--format", "json", "--interval", "0.3")
        assert result.returncode == 0, err
        data = json.loads(out)
        assert data["findings"] == []
        assert data["processes"][0]["cpu_percent"] > 30
    finally:
        _kill(proc)


def _child_of(parent: int, marker: str, within: float = 15.0) -> int:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                stat = Path(f"/proc/{entry}/stat").read_bytes()
            except OSError:
                continue
            ppid = int(stat.rpartition(b")")[2].split()[1])
            if ppid == parent and marker.encode() in cmdline:
                return int(entry)
        time.sleep(0.05)
    raise AssertionError(f"no child of {parent} running {marker}")


def test_a_tree_started_by_mpdoctor_run_gets_every_stack_through_the_probe() -> None:
    sample = read_sample(SAMPLES / "join_deadlock.py")
    run = subprocess.Popen(
        mpdoctor_argv("run", "--mp-log", "off", "--keep-going", "--hang-after", "0",
                      str(sample.path)),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, cwd=str(ROOT),
    )  # fmt: skip
    try:
        target = _child_of(run.pid, "join_deadlock.py")
        result, data = _until(target, "join-deadlock")
        assert result.returncode == 1
        jsonschema.validate(data, report_schema())
        assert any(n.startswith("stacks: the probe") for n in data["notes"]), data["notes"]
        assert all(p["probed"] for p in data["processes"])
        for line in sample.marked_lines:
            assert (sample.path.name, line, "blocked") in _cited(data)
        threads = {t["name"] for p in data["processes"] for t in p["threads"]}
        assert {"MainThread", "QueueFeederThread"} <= threads
    finally:
        _kill(run)


def test_watch_on_a_pipe_prints_a_snapshot_per_refresh_until_the_process_exits() -> None:
    proc = _start(sys.executable, "-c", "import time; time.sleep(1.5)")
    try:
        result = subprocess.run(
            mpdoctor_argv("inspect", str(proc.pid), "--watch", "0.3", "--no-stacks"),
            capture_output=True, timeout=20, cwd=str(ROOT),
        )  # fmt: skip
        out = result.stdout.decode()
        assert result.returncode == 0, result.stderr.decode()
        assert out.count(f"mpdoctor inspect {proc.pid} at ") >= 3
        assert out.rstrip().endswith(f"pid {proc.pid} exited")
    finally:
        _kill(proc)


def test_children_that_come_and_go_are_marked_in_the_watch() -> None:
    code = (
        "import subprocess, sys, time\n"
        "time.sleep(0.8)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(0.8)'])\n"
        "child.wait()\n"
        "time.sleep(0.8)\n"
    )
    proc = _start(sys.executable, "-c", code)
    try:
        result = subprocess.run(
            mpdoctor_argv("inspect", str(proc.pid), "--watch", "0.25", "--no-stacks"),
            capture_output=True, timeout=20, cwd=str(ROOT),
        )  # fmt: skip
        out = result.stdout.decode()
        assert result.returncode == 0, result.stderr.decode()
        assert " new" in out and "gone: " in out, out
    finally:
        _kill(proc)


def test_a_huge_tree_is_bounded_and_says_what_it_skipped() -> None:
    code = (
        "import subprocess, sys, time\n"
        "kids = [subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])"
        " for _ in range(6)]\n"
        "time.sleep(30)\n"
    )
    proc = _start(sys.executable, "-c", code)
    try:
        time.sleep(1.0)
        result, out, err = _inspect(proc.pid, "--format", "json", "--max-processes", "3",
                                    "--no-stacks")  # fmt: skip
        data = json.loads(out)
        assert result.returncode == 0, err
        assert len(data["processes"]) == 3
        assert any("4 more were not inspected" in n for n in data["notes"]), data["notes"]
    finally:
        _kill(proc)


def test_pid_1_is_a_normal_target() -> None:
    result, out, err = _inspect(1, "--format", "json", "--no-stacks", "--max-processes", "40")
    assert result.returncode in (0, 1), err
    data = json.loads(out)
    jsonschema.validate(data, report_schema())
    assert data["processes"][0]["pid"] == 1


# -- bad input: one `mpdoctor:` line, exit 2 (3: gone during the inspection) ---------------


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mpdoctor: "), err
    return lines[0]


@pytest.mark.parametrize(
    ("arg", "says"),
    [
        ("abc", "'abc' is not a process id"),
        ("-5", "-5 is not a process id"),
        ("0", "0 is not a process id"),
        ("12x", "'12x' is not a process id"),
        ("99999999", "no process with pid 99999999"),
    ],
)
def test_bad_pids_are_one_line_and_exit_2(arg: str, says: str) -> None:
    result = run_mpdoctor(["inspect", arg])
    assert result.returncode == 2
    assert says in _one_line(result.stderr.decode())
    assert result.stdout == b""


def test_a_zombie_is_refused_naming_its_parent() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{child.pid}/stat").read_bytes().rpartition(b")")[2].split()[0] != b"Z":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        result = run_mpdoctor(["inspect", str(child.pid)])
        assert result.returncode == 2
        line = _one_line(result.stderr.decode())
        assert "is a zombie" in line and f"pid {os.getpid()}" in line
    finally:
        child.wait()


def test_a_kernel_thread_is_refused() -> None:
    if Path("/proc/2/comm").read_text().strip() != "kthreadd":
        pytest.skip("no kthreadd at pid 2 here")
    result = run_mpdoctor(["inspect", "2"])
    assert result.returncode == 2
    assert "is a kernel thread (kthreadd)" in _one_line(result.stderr.decode())


def test_a_process_exiting_during_the_inspection_is_exit_3() -> None:
    proc = _start(sys.executable, "-c", "import time; time.sleep(0.6)")
    try:
        time.sleep(0.2)
        result = run_mpdoctor(["inspect", str(proc.pid), "--interval", "2", "--no-stacks"])
        assert result.returncode == 3
        assert "exited during the inspection" in _one_line(result.stderr.decode())
    finally:
        _kill(proc)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start a process as another user")
def test_another_user_s_process_is_shown_with_what_is_hidden_and_the_fix() -> None:
    if not Path("/usr/bin/setpriv").exists() or not Path("/usr/bin/sleep").exists():
        pytest.skip("needs setpriv and sleep")
    proc = subprocess.Popen(["/usr/bin/sleep", "30"], user=65534, group=65534, extra_groups=[],
                            start_new_session=True)  # fmt: skip
    try:
        time.sleep(0.2)
        # root without CAP_SYS_PTRACE: another user's system calls and descriptors are hidden
        result = subprocess.run(
            ["setpriv", "--inh-caps=-all", "--bounding-set=-sys_ptrace",
             *mpdoctor_argv("inspect", str(proc.pid), "--format", "json")],
            capture_output=True, timeout=30, cwd=str(ROOT),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr.decode()
        data = json.loads(result.stdout)
        notes = " ".join(data["notes"])
        assert "hidden by ptrace rules" in notes and "CAP_SYS_PTRACE" in notes
        assert data["processes"][0]["pid"] == proc.pid
        assert all(f["certainty"] == "suspected" for f in data["findings"])
    finally:
        _kill(proc)


def test_a_child_inspected_alone_is_not_an_orphaned_wait_while_its_parent_can_write() -> None:
    """The child holds both ends of its Queue's pipe (fork), but so does its parent, outside
    the inspected tree: the parent may still put, so the child's get() is not orphaned."""
    code = (
        "import multiprocessing as mp, time\n"
        "def consume(q):\n"
        "    q.get()\n"
        "if __name__ == '__main__':\n"
        "    q = mp.get_context('fork').Queue()\n"
        "    mp.get_context('fork').Process(target=consume, args=(q,)).start()\n"
        "    time.sleep(30)\n"
    )
    proc = _start(sys.executable, "-c", code)
    try:
        deadline = time.monotonic() + 10
        children: list[int] = []
        while not children and time.monotonic() < deadline:
            time.sleep(0.1)
            children = [int(c) for c in Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
                        .read_text().split()]  # fmt: skip
        time.sleep(0.3)
        result, out, err = _inspect(children[0], "--format", "json", "--no-stacks")
        data = json.loads(out)
        assert result.returncode == 0, err
        assert data["processes"][0]["wait"]["kind"] == "pipe-read"
        assert not {"orphaned-wait", "join-deadlock"} & {f["id"] for f in data["findings"]}
        # the same child inspected from its parent: the parent sleeps, nothing is proven either
        result, out, err = _inspect(proc.pid, "--format", "json", "--no-stacks")
        assert "orphaned-wait" not in {f["id"] for f in json.loads(out)["findings"]}
    finally:
        _kill(proc)


_FORKSERVER_POOL = (
    "import multiprocessing as mp, time\n"
    "def nap(x):\n"
    "    time.sleep(60)\n"
    "if __name__ == '__main__':\n"
    "    with mp.get_context('forkserver').Pool(2) as pool:\n"
    "        pool.map_async(nap, [1])  # one worker busy, one idle in get()\n"
    "        time.sleep(60)\n"
)


def _roles_until(pid: int, want: list[str], *args: str, within: float = 15.0):
    deadline = time.monotonic() + within
    while True:
        result, out, err = _inspect(pid, "--format", "json", *args)
        assert result.returncode in (0, 1), err
        data = json.loads(out)
        roles = sorted(p["role"] for p in data["processes"])
        if roles == sorted(want) or time.monotonic() > deadline:
            return data, roles
        time.sleep(0.2)


def test_a_forkserver_pool_of_a_plain_python_shows_every_role() -> None:
    """Python 3.14's default on Linux, from outside: the fork server and the resource tracker
    by their command lines, the pool workers (forks of the server, with its command line) by
    their stacks."""
    proc = _start(sys.executable, "-c", _FORKSERVER_POOL)
    try:
        data, roles = _roles_until(
            proc.pid,
            ["main", "resource-tracker", "forkserver", "forkserver-child", "forkserver-child"],
            "--no-stacks",
        )
        assert roles == sorted(
            ["main", "resource-tracker", "forkserver", "forkserver-child", "forkserver-child"]
        ), data["processes"]
        by_role = {p["role"]: p for p in data["processes"]}
        server = by_role["forkserver"]
        assert server["ppid"] == proc.pid and by_role["resource-tracker"]["ppid"] == proc.pid
        children = [p for p in data["processes"] if p["ppid"] == server["pid"]]
        assert len(children) == 2
        if not HAS_PYSPY:
            pytest.skip("py-spy not installed or ptrace not allowed: workers by stack untested")
        data, roles = _roles_until(
            proc.pid, ["main", "resource-tracker", "forkserver", "pool-worker", "pool-worker"]
        )
        assert roles == sorted(
            ["main", "resource-tracker", "forkserver", "pool-worker", "pool-worker"]
        ), data["processes"]
        workers = [p for p in data["processes"] if p["role"] == "pool-worker"]
        assert {p["ppid"] for p in workers} == {server["pid"]}
        assert any(n.startswith("stacks: py-spy") for n in data["notes"]), data["notes"]
        assert not {"join-deadlock", "orphaned-wait"} & {f["id"] for f in data["findings"]}
    finally:
        _kill(proc)


def _read_pty(fd: int, until, within: float) -> bytes:
    """What the terminal shows, until `until(text)` or `within` seconds."""
    import select

    buf, deadline = b"", time.monotonic() + within
    while time.monotonic() < deadline and not until(buf):
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            buf += chunk
    return buf


def test_watch_on_a_terminal_refreshes_until_ctrl_c_and_exits_0() -> None:
    """`mpdoctor inspect --watch 0.5 PID` in a terminal (a pty, the controlling terminal of
    its own session): a live tree, redrawn in place; Ctrl-C (^C typed on the terminal, so the
    line discipline sends SIGINT to the foreground group) ends it with 0 and no traceback."""
    import pty

    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "time.sleep(60)\n"
    )
    target = _start(sys.executable, "-c", code)
    argv = mpdoctor_argv("inspect", "--watch", "0.5", "--no-stacks", str(target.pid))
    env = {**os.environ, "COLUMNS": "100", "LINES": "50", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    pid, fd = pty.fork()
    if pid == 0:  # the child: a new session with the pty as its terminal
        try:
            os.chdir(str(ROOT))
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    status = None
    try:
        header = f"mpdoctor inspect {target.pid} at ".encode()
        shown = _read_pty(fd, lambda b: b.count(header) >= 3, within=20)
        assert shown.count(header) >= 3, shown[-2000:]
        assert b"\x1b[1A" in shown  # redrawn in place (rich Live), not printed below
        plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode(errors="replace"))
        # the name is the interpreter's (python, python3, python3.11: how the venv links it)
        assert re.search(rf"main {target.pid} python[\d.]*: sleeping", plain), plain
        assert plain.count("└── ") >= 3  # the child, under main, at each refresh
        os.write(fd, b"\x03")  # Ctrl-C
        deadline = time.monotonic() + 10
        rest = b""
        while status is None and time.monotonic() < deadline:
            rest += _read_pty(fd, lambda b: False, within=0.2)
            done, raw = os.waitpid(pid, os.WNOHANG)
            if done:
                status = raw
        rest += _read_pty(fd, lambda b: False, within=0.3)
        assert status is not None, "mpdoctor did not end on Ctrl-C"
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, (status, rest[-2000:])
        text = (shown + rest).decode(errors="replace")
        assert "Traceback" not in text and "KeyboardInterrupt" not in text
        assert "mpdoctor:" not in text  # no error line
        assert rest.endswith(b"\x1b[?25h") or b"\x1b[?25h" in rest  # the cursor is given back
    finally:
        if status is None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
        os.close(fd)
        _kill(target)


def test_a_child_left_a_zombie_is_reported_with_an_interval_of_2_s() -> None:
    """zombie-process needs a zombie seen for 2 s: one unreaped at both looks of
    `--interval 2`. The parent only sleeps (a quiet tree): not a hang that would reap it."""
    code = "import os, time\nchild = os.fork()\nif child == 0:\n    os._exit(3)\ntime.sleep(60)\n"
    proc = _start(sys.executable, "-c", code)
    try:
        deadline = time.monotonic() + 10
        while b" Z " not in _stat_of_children(proc.pid):
            assert time.monotonic() < deadline, "the child never became a zombie"
            time.sleep(0.05)
        result, out, err = _inspect(proc.pid, "--format", "json", "--interval", "2",
                                    "--no-stacks")  # fmt: skip
        assert result.returncode == 0, err  # a warning
        data = json.loads(out)
        jsonschema.validate(data, report_schema())
        zombies = [f for f in data["findings"] if f["id"] == "zombie-process"]
        assert len(zombies) == 1, data["findings"]
        (zombie,) = zombies
        child = next(p for p in data["processes"] if p["state"] == "zombie")
        assert zombie["pids"] == [child["pid"]] and zombie["severity"] == "warning"
        assert (
            f"(pid {proc.pid})" in zombie["message"] and "did not wait for it" in zombie["message"]
        )
        assert "its exit status: exited with code 3" in zombie["evidence"]
        # the default interval (0.1 s) cannot tell a lasting zombie from a brief one
        result, out, err = _inspect(proc.pid, "--format", "json", "--no-stacks")
        assert "zombie-process" not in {f["id"] for f in json.loads(out)["findings"]}
    finally:
        _kill(proc)


def _stat_of_children(pid: int) -> bytes:
    found = b""
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            found += Path(f"/proc/{child}/stat").read_bytes().rpartition(b")")[2]
        except OSError:
            pass
    return found
