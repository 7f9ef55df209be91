"""`mpdoctor run` on programs that hang: the verdict, the lines, the stacks, within 2 s, on every
start method and on old and new Pythons; and programs that only look stuck left alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_support import ROOT, mpdoctor_argv, run_mpdoctor

sys.path.insert(0, str(ROOT / "tests" / "donoharm"))
from sample_meta import read_sample

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc"),
]

SAMPLES = ROOT / "samples"
LAUNCHER = ROOT / "tests" / "donoharm" / "with_start_method.py"
PROVEN = ["join_deadlock", "orphaned_wait", "pool_terminated", "fork_with_threads",
          "pool_worker_killed_hang"]  # fmt: skip
PYTHONS = {
    "3.8": Path("/root/.pyenv/versions/3.8.18/bin/python"),
    "3.13": Path("/root/.pyenv/versions/3.13.0/bin/python"),
}
RULE = "─" * 10


def _run(tmp_path: Path, *args: str, timeout: float = 60):
    report = tmp_path / "report.json"
    result = run_mpdoctor(["run", "--mp-log", "off", "--report", str(report), *args],
                          timeout=timeout)  # fmt: skip
    stderr = result.stderr.decode(errors="replace")
    data = json.loads(report.read_text()) if report.exists() else None
    return result, data, stderr


def _leftovers(marker: str) -> list[str]:
    """Processes whose command line mentions `marker` (a sample's path): none may remain."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline and int(entry) != os.getpid():
                found.append(entry)
    return found


def _cited(data: dict) -> set[tuple[str, int, str]]:
    return {(Path(loc["file"]).name, loc["line"], loc["role"])
            for f in data["findings"] for loc in f["locations"]}  # fmt: skip


@pytest.mark.parametrize("name", PROVEN)
def test_a_proven_hang_is_reported_and_stopped_within_2_s(tmp_path, name) -> None:
    sample = read_sample(SAMPLES / f"{name}.py")
    started = time.monotonic()
    result, data, stderr = _run(tmp_path, str(sample.path))
    assert result.returncode == 124, stderr
    assert time.monotonic() - started < 6  # python and mpdoctor start-up, the proof, the tear-down
    assert data["outcome"]["status"] == "deadlock-stopped"
    assert data["outcome"]["duration_s"] < 2.0, stderr  # from the start, the hang formed after
    assert {f["id"] for f in data["findings"]} == set(sample.expect), stderr
    assert [f["certainty"] for f in data["findings"] if f["id"] in sample.expect[:1]] == ["proven"]
    cited = {(file, line) for file, line, _role in _cited(data)}
    for line in sample.marked_lines:
        assert (sample.path.name, line) in cited, stderr
    assert "blocked" in {role for *_x, role in _cited(data)}, stderr
    # the report came once, before the tear-down: the tree was still there, with its stacks
    assert stderr.count(f"{RULE} mpdoctor {RULE}") == 2, stderr
    assert "\nthreads\n" in stderr and "MainThread" in stderr
    main = next(p for p in data["processes"] if p["role"] == "main")
    assert main["threads"] and main["wait"] is not None
    assert any(t["stack"] for t in main["threads"])
    assert _leftovers(str(sample.path)) == []


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
@pytest.mark.parametrize("name", ["join_deadlock", "orphaned_wait", "pool_terminated",
                                  "pool_worker_killed_hang"])  # fmt: skip
def test_proven_under_every_start_method(tmp_path, name, method) -> None:
    sample = read_sample(SAMPLES / f"{name}.py")
    result, data, stderr = _run(tmp_path, str(LAUNCHER), method, str(sample.path))
    assert result.returncode == 124, stderr
    assert data["outcome"]["status"] == "deadlock-stopped", stderr
    assert {f["id"] for f in data["findings"]} == set(sample.expect), stderr
    assert _leftovers(str(sample.path)) == []


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_child_waiting_for_what_the_joiner_sends_later_is_proven(tmp_path, method) -> None:
    program = ROOT / "tests" / "e2e" / "programs" / "join_before_send.py"
    result, data, stderr = _run(tmp_path, str(LAUNCHER), method, str(program))
    assert result.returncode == 124, stderr
    assert data["outcome"]["status"] == "deadlock-stopped", stderr
    [finding] = [f for f in data["findings"] if f["id"] == "join-deadlock"]
    assert finding["title"].endswith("which waits for the joiner to send")
    assert ("join_before_send.py", 14, "blocked") in _cited(data)
    assert _leftovers(str(program)) == []


@pytest.mark.parametrize("version", sorted(PYTHONS))
@pytest.mark.parametrize("name", PROVEN)
def test_proven_on_older_and_newer_python(tmp_path, name, version) -> None:
    python = PYTHONS[version]
    if not python.exists():
        pytest.skip(f"no Python {version}")
    sample = read_sample(SAMPLES / f"{name}.py")
    result, data, stderr = _run(tmp_path, "--python", str(python), str(sample.path))
    assert result.returncode == 124, stderr
    assert {f["id"] for f in data["findings"]} == set(sample.expect), stderr
    assert data["environment"]["python"].startswith(version)


def test_a_polling_loop_is_reported_while_it_runs_then_stopped_by_the_timeout(tmp_path) -> None:
    sample = read_sample(SAMPLES / "orphaned_poll.py")
    result, data, stderr = _run(tmp_path, "--hang-after", "2", "--timeout", "5", str(sample.path))
    assert result.returncode == 124, stderr
    assert data["outcome"]["status"] == "timeout"
    # once while it ran (status running), once before the tear-down at the timeout
    assert stderr.count(f"{RULE} mpdoctor {RULE}") == 4, stderr
    assert "still running at" in stderr
    [finding] = [f for f in data["findings"] if f["id"] == "orphaned-wait"]
    assert (finding["certainty"], finding["severity"]) == ("suspected", "warning")
    assert ("orphaned_poll.py", sample.marked_lines[0], "blocked") in _cited(data)
    assert "no-progress" not in {f["id"] for f in data["findings"]}


def test_a_timed_get_retried_forever_is_a_polling_loop(tmp_path) -> None:
    program = ROOT / "tests" / "e2e" / "programs" / "poll_get_timeout.py"
    result, data, stderr = _run(tmp_path, "--hang-after", "2", "--timeout", "5", str(program))
    assert result.returncode == 124, stderr
    [finding] = [f for f in data["findings"] if f["id"] == "orphaned-wait"]
    assert finding["certainty"] == "suspected"
    assert ("poll_get_timeout.py", 20, "blocked") in _cited(data)


def test_a_wait_in_a_manager_proxy_is_located_at_the_programs_call(tmp_path) -> None:
    program = ROOT / "tests" / "e2e" / "programs" / "manager_queue_get.py"
    result, data, stderr = _run(tmp_path, "--hang-after", "1", "--timeout", "4", str(program))
    assert result.returncode == 124, stderr
    assert ("manager_queue_get.py", 8, "waiting") in _cited(data), stderr
    assert "<string>" not in stderr


def test_a_lost_task_is_claimed_only_when_someone_waits_for_it(tmp_path) -> None:
    held = "without a timeout wait forever. It did: pid"
    _result, data, stderr = _run(tmp_path, str(SAMPLES / "pool_worker_killed_hang.py"))
    [waited] = [f for f in data["findings"] if f["id"] == "worker-died"]
    assert held in waited["message"], stderr
    idle = ROOT / "tests" / "e2e" / "programs" / "pool_result_not_awaited.py"
    result, data, stderr = _run(tmp_path, str(idle))
    assert result.returncode == 0, stderr
    [finding] = [f for f in data["findings"] if f["id"] == "worker-died"]
    assert "wait forever." not in finding["message"], stderr
    assert "a task it held is never finished" in finding["message"]


def test_a_lock_the_fork_child_took_twice_is_not_blamed_on_fork_alone(tmp_path) -> None:
    program = ROOT / "tests" / "e2e" / "programs" / "fork_child_takes_lock_twice.py"
    result, data, stderr = _run(tmp_path, str(program))
    assert result.returncode == 124, stderr  # stuck for good: proven, stopped
    [finding] = [f for f in data["findings"] if f["id"] == "fork-with-threads"]
    assert finding["title"].endswith("is stuck on a lock no thread of it can release")
    assert "a Lock taken twice: use an RLock" in finding["message"]
    assert ("fork_child_takes_lock_twice.py", 17, "blocked") in _cited(data)


@pytest.mark.parametrize("name", ["join_with_drain_thread", "long_sleep", "busy_workers"])
def test_a_program_that_only_looks_stuck_is_left_alone(tmp_path, name) -> None:
    sample = read_sample(SAMPLES / f"{name}.py")
    result, data, stderr = _run(tmp_path, "--hang-after", "2", str(sample.path))
    assert result.returncode == 0, stderr
    assert data["outcome"]["status"] == "exited"
    assert data["findings"] == [], stderr


def test_a_stall_is_written_to_the_report_at_once(tmp_path) -> None:
    """CI may SIGKILL mpdoctor later: the report file already says what the tree waits on."""
    report = tmp_path / "report.json"
    sample = SAMPLES / "long_sleep.py"
    argv = mpdoctor_argv("run", "--mp-log", "off", "--hang-after", "1", "--report", str(report))
    proc = subprocess.Popen(
        [*argv, str(sample), "30"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 15
        while not report.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        data = json.loads(report.read_text())
        assert data["outcome"]["status"] == "running"
        assert [f["id"] for f in data["findings"]] == ["no-progress"]
        assert data["findings"][0]["severity"] == "warning"
        main = next(p for p in data["processes"] if p["role"] == "main")
        assert main["wait"]["kind"] == "sleep" and main["wait"]["timed"] is True
        assert proc.poll() is None  # a stall is reported, never stopped
        proc.send_signal(signal.SIGTERM)  # as a CI cancel: forwarded after a snapshot
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGTERM
    final = json.loads(report.read_text())
    assert final["outcome"]["status"] == "signaled"
    main = next(p for p in final["processes"] if p["role"] == "main")
    assert main["threads"], err.decode(errors="replace")  # the snapshot before forwarding
    assert _leftovers(f"{sample} 30") == []


@pytest.mark.parametrize(
    ("sample", "options", "finding"),
    [
        ("long_sleep.py", ("--hang-after", "1"), "no-progress"),
        ("join_deadlock.py", ("--keep-going",), "join-deadlock"),
    ],
)
def test_a_group_signal_keeps_what_was_reported(tmp_path, sample, options, finding) -> None:
    """A CI runner or `timeout` signals the whole process group: the program is already dying
    when mpdoctor looks, and the final report still has what the interim one said."""
    report = tmp_path / "report.json"
    argv = mpdoctor_argv("run", "--mp-log", "off", *options, "--report", str(report))
    proc = subprocess.Popen(
        [*argv, str(SAMPLES / sample), "30"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if report.exists() and finding in report.read_text():
                break
            time.sleep(0.1)
        assert json.loads(report.read_text())["outcome"]["status"] == "running"
        os.killpg(proc.pid, signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    final = json.loads(report.read_text())
    assert final["outcome"]["status"] == "signaled", err.decode(errors="replace")
    assert finding in {f["id"] for f in final["findings"]}, err.decode(errors="replace")
    assert finding in err.decode(errors="replace").rsplit(RULE + " mpdoctor", 2)[-2]
    assert _leftovers(f"{sample} 30") == []


def test_a_kill_before_hang_after_is_no_hang(tmp_path) -> None:
    """A sleeping program signalled (a CI cancel) before --hang-after has passed gets no
    `no-progress` finding: it had not stalled for the time that defines one."""
    report = tmp_path / "report.json"
    sample = SAMPLES / "long_sleep.py"
    argv = mpdoctor_argv("run", "--mp-log", "off", "--report", str(report), str(sample), "30")
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        time.sleep(3)  # quiet for about 2.5 s of the default 10
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGTERM, err
    data = json.loads(report.read_text())
    assert data["outcome"]["status"] == "signaled"
    # (its child, which the forwarded SIGTERM did not reach, is an orphan-process)
    assert "no-progress" not in {f["id"] for f in data["findings"]}, err.decode(errors="replace")
    assert _leftovers(f"{sample} 30") == []


def test_keep_going_reports_a_deadlock_and_lets_it_run(tmp_path) -> None:
    sample = SAMPLES / "join_deadlock.py"
    result, data, stderr = _run(tmp_path, "--keep-going", "--timeout", "4", str(sample))
    assert result.returncode == 124, stderr
    assert data["outcome"]["status"] == "timeout"
    assert data["outcome"]["duration_s"] >= 4
    assert "join-deadlock" in {f["id"] for f in data["findings"]}
    assert stderr.count(f"{RULE} mpdoctor {RULE}") == 4  # at the proof, and at the timeout
    assert "--keep-going let it run on" in stderr


def test_without_stacks_the_proof_still_holds(tmp_path) -> None:
    sample = SAMPLES / "join_deadlock.py"
    result, data, stderr = _run(tmp_path, "--stack-signal", "off", str(sample))
    assert result.returncode == 124, stderr
    assert [f["id"] for f in data["findings"]] == ["join-deadlock"]
    assert all(not t["stack"] for p in data["processes"] for t in p["threads"])
    assert "stacks are off" in stderr


def test_a_busy_program_stopped_by_the_timeout_gets_no_verdict_and_no_signal(tmp_path):
    """Busy workers are never sent the stack signal (dumping a running thread can crash it);
    the sleeping main process's stack is shown."""
    sample = SAMPLES / "busy_workers.py"
    started = time.monotonic()
    result, data, stderr = _run(tmp_path, "--timeout", "1.5", str(sample))
    assert result.returncode == 124, stderr
    assert time.monotonic() - started < 5  # exits within 2 s of its decision
    assert data["outcome"]["status"] == "timeout"
    assert data["findings"] == [], stderr
    main = next(p for p in data["processes"] if p["role"] == "main")
    assert any(t["stack"] for t in main["threads"]), stderr
    workers = [p for p in data["processes"] if p["role"] == "pool-worker"]
    assert workers and all(p["signal"] != signal.SIGSEGV for p in workers), stderr
    assert all(not t["stack"] for p in workers for t in p["threads"]), stderr


@pytest.mark.parametrize("value", ["SIGKILL", "SIGINT", "TERM", "nosuch", "99999", "SIGRTMIN+x"])
def test_a_bad_stack_signal_is_a_usage_error(tmp_path, value) -> None:
    result = run_mpdoctor(["run", "--stack-signal", value, str(SAMPLES / "pool_map.py")])
    stderr = result.stderr.decode()
    assert result.returncode == 2 and stderr.startswith("mpdoctor:"), stderr
    assert "Traceback" not in stderr


def test_a_stack_signal_by_name_with_an_offset(tmp_path) -> None:
    result, data, stderr = _run(tmp_path, "--stack-signal", "SIGRTMIN+3",
                                str(SAMPLES / "join_deadlock.py"))  # fmt: skip
    assert result.returncode == 124, stderr
    assert any(t["stack"] for p in data["processes"] for t in p["threads"]), stderr


STUBBORN_WITH_A_SEMAPHORE = """
import multiprocessing as mp, signal, time

def sleep():
    time.sleep(60)

if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # survives the tear-down's SIGTERM
    mp.set_start_method("spawn")
    lock = mp.Lock()  # a named semaphore, registered with the resource tracker
    mp.Process(target=sleep).start()
    print(lock._semlock.name, flush=True)
    time.sleep(60)
"""


def test_the_teardown_lets_the_resource_tracker_unlink_what_the_program_leaked(tmp_path):
    # Ctrl-C would leave /dev/shm clean (the tracker ignores SIGINT and SIGTERM and unlinks
    # the program's semaphores once every other process is gone); so must the tear-down, even
    # when a process that ignores SIGTERM makes it send SIGKILL.
    program = tmp_path / "stubborn.py"
    program.write_text(STUBBORN_WITH_A_SEMAPHORE)
    result, data, stderr = _run(tmp_path, "--timeout", "2", str(program))
    assert result.returncode == 124, stderr
    [main] = [p for p in data["processes"] if p["role"] == "main"]
    assert main["signal"] == signal.SIGKILL, stderr  # it ignored SIGTERM: the KILL phase ran
    name = result.stdout.decode().strip().lstrip("/")
    assert name.startswith("mp-"), result.stdout
    assert not os.path.exists(f"/dev/shm/sem.{name}"), "the semaphore was left in /dev/shm"
    assert _leftovers(str(program)) == []
