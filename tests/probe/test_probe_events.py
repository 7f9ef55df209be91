"""The events the probe writes, program by program, on every supported Python and start method."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from probe_support import (
    PROGRAMS,
    START_METHODS,
    SUPPORTED,
    ProbedRun,
    interpreter_params,
    run_probed,
    site_line,
)

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux probe contract"),
]

PYTHONS = interpreter_params(SUPPORTED)


def _site(program: str, marker: str) -> dict:
    path = PROGRAMS / program
    return {"file": str(path), "line": site_line(path, marker), "function": "<module>"}


def _started_children(run: ProbedRun, pid: int) -> list[dict]:
    return run.of("child-start", pid)


def _check_start(run: ProbedRun, pid: int, python: Path) -> dict:
    start = run.one("start", pid)
    assert start["exe"] and start["py"].count(".") == 2
    assert isinstance(start["ticks"], int) and start["ticks"] > 0
    assert isinstance(start["ppid"], int) and isinstance(start["argv"], list)
    return start


@pytest.mark.parametrize("python", PYTHONS)
def test_plain_script(python: Path) -> None:
    run = run_probed(python, PROGRAMS / "plain.py", "3")
    assert run.returncode == 3
    assert run.stdout == b"hello from plain\nmultiprocessing imported: False\n"
    assert run.stderr == b"to stderr\n"
    assert [e["e"] for e in run.events] == ["start"]  # nothing else without multiprocessing
    start = _check_start(run, run.main_pid, python)
    assert start["forked"] is False
    assert start["argv"] == [str(PROGRAMS / "plain.py"), "3"]


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_process_join(python: Path, method: str) -> None:
    run = run_probed(python, PROGRAMS / "process_join.py", method)
    assert run.returncode == 0, run.text()
    assert run.stdout == b"hello world\nexitcode 0\n"
    main = run.main_pid
    mp_event = run.one("mp", main)
    assert mp_event["default_method"] == "fork" and mp_event["role"] is None
    [child] = _started_children(run, main)
    assert child["name"] == "greeter" and child["method"] == method
    assert child["kind"] == "process" and child["pool"] is None and child["daemon"] is False
    assert child["target"] == "__main__.greet"
    assert child["site"] == _site("process_join.py", "SITE: start")
    reaped = run.one("child-exit", main)
    assert (reaped["child"], reaped["exitcode"]) == (child["child"], 0)
    start = _check_start(run, child["child"], python)
    assert start["forked"] is (method != "spawn")
    boot = run.one("bootstrap", child["child"])
    assert boot["name"] == "greeter" and boot["method"] == method
    assert boot["parent_pid"] == main and boot["daemon"] is False
    if method == "forkserver":
        [server] = [e for e in run.of("mp") if e["role"] == "forkserver"]
        assert start["ppid"] == server["pid"]
    else:
        assert start["ppid"] == main


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_pool_map(python: Path, method: str) -> None:
    run = run_probed(python, PROGRAMS / "pool_map.py", method)
    assert run.returncode == 0, run.text()
    assert run.stdout == b"[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]\n49\n"
    main = run.main_pid
    pools = run.of("pool", main)
    assert [(p["kind"], p["size"], p["method"], p["site"]) for p in pools] == [
        ("Pool", 2, method, _site("pool_map.py", "SITE: pool")),
        ("Pool", 1, method, _site("pool_map.py", "SITE: pool2")),
    ]
    first, second = (p["pool"] for p in pools)
    assert first == f"{main}:1" and second == f"{main}:2"
    workers = _started_children(run, main)
    assert [w["pool"] for w in workers] == [first, first, second]
    assert {w["kind"] for w in workers} == {"pool-worker"}
    assert all(w["daemon"] and w["target"] == "multiprocessing.pool.worker" for w in workers)
    ends = [(e["pool"], e["how"]) for e in run.of("pool-end", main)]
    assert ends == [(first, "terminate"), (second, "close")]
    # The `with` exit SIGTERMs the first pool's workers that have not exited on their own yet:
    # pool-terminate, at the user's line.
    kills = run.of("kill", main)
    first_pids = {w["child"] for w in workers if w["pool"] == first}
    for kill in kills:
        assert kill["via"] == "pool-terminate" and kill["sig"] == 15
        assert kill["target"] in first_pids
        # 3.8 and 3.9 attribute the implicit __exit__ call to the block's last line
        assert kill["site"] in (
            _site("pool_map.py", "SITE: pool"),
            _site("pool_map.py", "SITE: with-body"),
        )
    exits = {e["child"]: e["exitcode"] for e in run.of("child-exit", main)}
    assert set(exits) == {w["child"] for w in workers}
    assert all(exits[k["target"]] in (0, -15) for k in kills)
    for worker in workers:  # a worker SIGTERMed while still starting writes nothing
        boots = run.of("bootstrap", worker["child"])
        assert all(b["daemon"] and b["parent_pid"] == main for b in boots)


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_process_pool_executor(python: Path, method: str) -> None:
    run = run_probed(python, PROGRAMS / "executor_map.py", method)
    assert run.returncode == 0, run.text()
    assert run.stdout == b"[0, 1, 8, 27, 64, 125]\n"
    main = run.main_pid
    pool = run.one("pool", main)
    assert pool["kind"] == "ProcessPoolExecutor" and pool["size"] == 2
    assert pool["method"] == method and pool["site"] == _site("executor_map.py", "SITE: executor")
    workers = _started_children(run, main)
    assert 1 <= len(workers) <= 2
    for worker in workers:
        assert worker["kind"] == "executor-worker" and worker["pool"] == pool["pool"]
        assert worker["target"] == "concurrent.futures.process._process_worker"
    assert [(e["pool"], e["how"]) for e in run.of("pool-end", main)] == [(pool["pool"], "shutdown")]
    exits = {e["child"]: e["exitcode"] for e in run.of("child-exit", main)}
    assert exits == {w["child"]: 0 for w in workers}
    assert not run.of("kill"), "a clean shutdown sends no signal"


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_child_killed_by_sigkill(python: Path, method: str) -> None:
    run = run_probed(python, PROGRAMS / "child_killed.py", method)
    assert run.returncode == 0, run.text()
    assert run.stdout == b"os.kill exitcode -9\nProcess.kill exitcode -9\n"
    main = run.main_pid
    first, second = _started_children(run, main)
    kills = run.of("kill", main)
    assert [(k["target"], k["sig"], k["via"], k["site"]) for k in kills] == [
        (first["child"], 9, "user", _site("child_killed.py", "SITE: os.kill")),
        (second["child"], 9, "process-terminate", _site("child_killed.py", "SITE: p.kill")),
    ]
    exits = [(e["child"], e["exitcode"]) for e in run.of("child-exit", main)]
    assert exits == [(first["child"], -9), (second["child"], -9)]


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_target_raises(python: Path, method: str) -> None:
    run = run_probed(python, PROGRAMS / "child_raises.py", method)
    assert run.returncode == 0, run.text()
    assert run.stdout == b"exitcode 1\n"
    main = run.main_pid
    [child] = _started_children(run, main)
    assert run.one("child-exit", main)["exitcode"] == 1
    exc = run.one("exception", child["child"])
    assert exc["type"] == "KeyError" and exc["module"] == "builtins"
    assert exc["message"] == "'missing'"
    # The recorded text is exactly what multiprocessing printed after "Process NAME:".
    printed = run.stderr.decode()
    header = f"Process {child['name']}:\n"
    assert printed.startswith(header), printed
    assert exc["traceback"] == printed[len(header) :]
    program = str(PROGRAMS / "child_raises.py")
    assert [(f["file"], f["function"]) for f in exc["frames"][-2:]] == [
        (program, "target"),
        (program, "inner"),
    ]
    assert exc["frames"][0]["function"] == "_bootstrap"


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_a_fork_grandchild_of_any_child_bootstraps(python: Path, method: str) -> None:
    run = run_probed(python, PROGRAMS / "nested_fork_raises.py", method)
    assert run.returncode == 0, run.text()
    assert run.stdout.decode().splitlines() == ["grandchild exitcode 1", "child exitcode 0"]
    [child] = _started_children(run, run.main_pid)
    [grandchild] = _started_children(run, child["child"])
    assert run.one("bootstrap", child["child"])["method"] == method
    assert run.one("bootstrap", grandchild["child"])["method"] == "fork"
    assert run.one("exception", grandchild["child"])["message"] == "grandchild boom"
    assert run.one("child-exit", child["child"])["exitcode"] == 1


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_resource_tracker_leak_warning(python: Path, method: str) -> None:
    run = run_probed(python, PROGRAMS / "shm_leak.py", method)
    assert run.returncode == 0, run.text()
    trackers = [e["pid"] for e in run.of("mp") if e["role"] == "resource-tracker"]
    assert len(trackers) == 1, run.events
    warnings = run.of("warning", trackers[0])
    assert warnings, run.text()
    leak = warnings[0]
    assert leak["category"] == "UserWarning"
    assert "leaked shared_memory objects" in leak["message"]
    assert leak["filename"].endswith("resource_tracker.py") and isinstance(leak["lineno"], int)
    assert "leaked shared_memory" in run.stderr.decode()  # still printed, as without the probe
    assert all(e["pid"] in trackers for e in run.of("warning"))


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_with_pool_exit_terminates_busy_worker(python: Path, method: str) -> None:
    run = run_probed(python, PROGRAMS / "pool_busy_exit.py", method)
    assert run.returncode == 0, run.text()
    assert run.stdout == b"left the pool\n"
    main = run.main_pid
    pool = run.one("pool", main)
    [worker] = _started_children(run, main)
    [kill] = run.of("kill", main)
    assert (kill["target"], kill["sig"], kill["via"]) == (worker["child"], 15, "pool-terminate")
    assert kill["site"] in (
        _site("pool_busy_exit.py", "SITE: pool"),
        _site("pool_busy_exit.py", "SITE: with-body"),
    )
    assert [(e["pool"], e["how"]) for e in run.of("pool-end", main)] == [
        (pool["pool"], "terminate")
    ]
    reaped = run.one("child-exit", main)
    assert (reaped["child"], reaped["exitcode"]) == (worker["child"], -15)


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_pool_respawned_workers_keep_their_pool(python: Path, method: str) -> None:
    run = run_probed(python, PROGRAMS / "pool_respawn.py", method)
    assert run.returncode == 0, run.text()
    assert run.stdout == b"[0, 1, 2]\n"
    main = run.main_pid
    pool = run.one("pool", main)
    workers = _started_children(run, main)
    assert len(workers) >= 3  # one per task, replaced by the worker-handler thread
    assert {(w["kind"], w["pool"]) for w in workers} == {("pool-worker", pool["pool"])}
    assert workers[0]["site"] == _site("pool_respawn.py", "SITE: pool")
    assert all(w["site"] is None for w in workers[1:])  # started from multiprocessing's thread
    exits = {e["child"]: e["exitcode"] for e in run.of("child-exit", main)}
    assert all(exits[w["child"]] in (0, -15) for w in workers)


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_executor_broken_by_a_killed_worker(python: Path, method: str) -> None:
    run = run_probed(python, PROGRAMS / "executor_broken.py", method)
    assert run.returncode == 0, run.text()
    assert run.stdout == b"broken\n"
    main = run.main_pid
    pool = run.one("pool", main)
    workers = {w["child"] for w in _started_children(run, main)}
    [suicide] = [k for k in run.of("kill") if k["pid"] != main]
    assert suicide["target"] == suicide["pid"] in workers and suicide["sig"] == 9
    assert suicide["via"] == "user" and suicide["site"]["function"] == "die"
    assert [(e["pool"], e["how"]) for e in run.of("pool-end", main)] == [(pool["pool"], "broken")]
    for kill in run.of("kill", main):  # the survivors are terminated by the executor
        assert kill["via"] == "executor-shutdown" and kill["target"] in workers
    exits = {e["child"]: e["exitcode"] for e in run.of("child-exit", main)}
    assert exits[suicide["pid"]] == -9


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_pool_left_open_is_ended_at_exit(python: Path, method: str) -> None:
    run = run_probed(python, PROGRAMS / "pool_left_open.py", method)
    assert run.returncode == 0, run.text()
    main = run.main_pid
    pool = run.one("pool", main)
    # idle workers may exit on their own before multiprocessing's exit handler signals them
    kills = run.of("kill", main)
    assert all(k["via"] == "pool-terminate" and k["site"] is None for k in kills)
    assert [(e["pool"], e["how"]) for e in run.of("pool-end", main)] == [(pool["pool"], "exit")]


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_manager_server(python: Path, method: str) -> None:
    run = run_probed(python, PROGRAMS / "manager_list.py", method)
    assert run.returncode == 0, run.text()
    assert run.stdout == b"[1, 2, 3]\n"
    main = run.main_pid
    [server] = _started_children(run, main)
    assert server["kind"] == "manager" and server["pool"] is None
    assert server["site"] == _site("manager_list.py", "SITE: manager")
    assert run.one("bootstrap", server["child"])["parent_pid"] == main
    reaped = run.one("child-exit", main)
    assert reaped["child"] == server["child"]
    for kill in run.of("kill", main):
        assert kill["via"] == "manager-shutdown"


@pytest.mark.parametrize("python", PYTHONS)
def test_plain_fork_and_exec(python: Path) -> None:
    run = run_probed(python, PROGRAMS / "fork_exec.py")
    assert run.returncode == 0, run.text()
    assert run.stdout == b"exec image\nparent done\n"
    main = run.main_pid
    [child] = {e["pid"] for e in run.of("start") if e["pid"] != main}
    starts = run.of("start", child)
    assert [(s["forked"], s["argv"][0]) for s in starts] == [
        (True, str(PROGRAMS / "fork_exec.py")),
        (False, "-c"),
    ]
    assert starts[0]["threads"] == 2
    assert starts[0]["_file"] == starts[1]["_file"]  # same process: same pid and start ticks
    assert starts[1]["ppid"] == main
    [exec_event] = run.of("exec", child)
    assert exec_event["path"] == str(python)
    assert exec_event["argv"][1:] == ["-c", "print('exec image')"]
    kinds = [e["e"] for e in run.events if e["pid"] == child]
    assert kinds == ["start", "exec", "start"]


@pytest.mark.parametrize("python", PYTHONS)
def test_probe_started_after_multiprocessing_was_imported(python: Path, tmp_path: Path) -> None:
    session = tmp_path / "session"
    (session / "events").mkdir(parents=True)
    from probe_support import PROBE_ROOT, read_events, run_unprobed

    run = run_unprobed(python, PROGRAMS / "late_start.py", str(session), str(PROBE_ROOT))
    assert run.returncode == 0, run.text()
    assert run.stdout == b"[0, 1, 4]\n"
    events = [e for e in read_events(session) if e["pid"] == run.pid]
    kinds = [e["e"] for e in events]
    assert kinds[:2] == ["start", "mp"] and "pool" in kinds and "child-start" in kinds
    [pool] = [e for e in events if e["e"] == "pool"]
    assert pool["site"] == _site("late_start.py", "SITE: pool")


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_pool_initializer_failure_recorded_per_worker(python: Path, method: str) -> None:
    run = run_probed(python, PROGRAMS / "pool_initializer_fails.py", method)
    assert run.returncode == 0, run.text()
    main = run.main_pid
    pool = run.one("pool", main)
    workers = [w["child"] for w in _started_children(run, main) if w["pool"] == pool["pool"]]
    failures = [e for e in run.of("exception") if e["pid"] in workers]
    assert len(workers) >= 2 and failures  # respawned after each failure
    for exc in failures:
        assert (exc["type"], exc["message"]) == ("OSError", "database unreachable")
        assert exc["frames"][-1]["function"] == "bad_init"
        assert exc["traceback"] in run.stderr.decode()
    exits = [e["exitcode"] for e in run.of("child-exit", main)]
    assert exits.count(1) >= len(failures) - 1  # the last failure may be reaped by terminate


@pytest.mark.parametrize("mode", ["trap", "no-memfd"])
@pytest.mark.parametrize("python", PYTHONS)
def test_threads_at_a_fork_are_named_with_their_stacks_without_current_frames(
    python: Path, mode: str
) -> None:
    run = run_probed(python, PROGRAMS / "fork_beside_thread.py", "fork", mode)
    assert (run.returncode, run.stdout) == (0, b"[0, 1, 2]\n"), run.text()
    forks = run.of("fork-threads", run.main_pid)
    assert len(forks) >= 3  # one per worker the pool started (the last replacement may not be)
    for event in forks:
        # The pool's own threads are left out; the main thread is another thread when the
        # pool's worker-handler thread forks.
        threads = {thread["name"]: thread["stack"] for thread in event["threads"]}
        assert set(threads) in ({"waiter"}, {"waiter", "MainThread"}), event
        waiter = threads["waiter"]
        assert waiter[-1]["function"] == "_bootstrap"
        assert waiter[0]["function"] == "wait" and waiter[0]["file"].endswith("threading.py")
        assert all(isinstance(frame["line"], int) for frame in waiter)


@pytest.mark.parametrize("python", interpreter_params(("3.12",)))
def test_a_fork_beside_a_thread_never_crashes_the_program_at_exit(python: Path) -> None:
    """3.12: frame objects the probe made of other threads' running frames crashed the final
    garbage collection (SIGSEGV) in about 1 run of 10 of this program; 40 runs."""
    for _ in range(40):
        run = run_probed(python, PROGRAMS / "fork_beside_thread.py", "fork")
        assert (run.returncode, run.stderr) == (0, b""), run.text()


NON_ASCII_THREAD = """\
import multiprocessing as mp, threading
def wörk(stop):
    stop.wait()
if __name__ == "__main__":
    stop = threading.Event()
    threading.Thread(target=wörk, args=(stop,), daemon=True).start()
    p = mp.get_context("fork").Process(target=print)
    p.start(); p.join(); stop.set()
"""


@pytest.mark.parametrize("python", PYTHONS)
def test_a_thread_stack_at_a_fork_keeps_non_ascii_names(python: Path, tmp_path: Path) -> None:
    """faulthandler escapes what is not ASCII; the event has the names as the code has them."""
    program = tmp_path / "café" / "prög.py"
    program.parent.mkdir()
    program.write_text(NON_ASCII_THREAD, encoding="utf-8")
    run = run_probed(python, program)
    assert run.returncode == 0, run.text()
    [event] = run.of("fork-threads", run.main_pid)
    [thread] = event["threads"]
    frame = next(f for f in thread["stack"] if f["function"] == "wörk")
    assert (frame["file"], frame["line"]) == (str(program), 3)
