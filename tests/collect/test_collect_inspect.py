"""The pure parts of `mpdoctor inspect`, each on real data: which waits hold across the
interval (`steady`), py-spy's JSON (a recorded dump, and a fresh one when py-spy may run), a
pipe held outside the inspected tree (`mark_outside_holders`), and the PID argument through
`main([...])` in-process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mpdoctor.cli.main import main
from mpdoctor.collect import pyspy
from mpdoctor.collect.hang import snapshot
from mpdoctor.collect.live_waits import mark_outside_holders, steady
from mpdoctor.diagnose.evidence import HangSnapshot, ThreadState

pytestmark = pytest.mark.timeout(60)

DATA = Path(__file__).resolve().parent / "data"
ON_LINUX = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")


# -- steady: a wait counts only if the second look found the same one ------------------------


def _read(tid: int, fd: int = 5, **fields) -> ThreadState:
    fields.setdefault("blocked", True)
    return ThreadState(tid=tid, state="sleeping", syscall="read", fd=fd, **fields)


def test_a_wait_unchanged_at_the_second_look_stays_blocked() -> None:
    first = HangSnapshot(t_s=0.0, threads={10: [_read(10)]})
    last = HangSnapshot(t_s=0.1, threads={10: [_read(10)]})
    steady(first, last)
    assert first.threads[10][0].blocked


def test_a_thread_whose_wait_changed_is_not_blocked() -> None:
    first = HangSnapshot(
        t_s=0.0,
        threads={10: [_read(10, fd=5), _read(11, fd=7), _read(12, fd=9)]},
    )
    last = HangSnapshot(
        t_s=0.1,
        threads={
            10: [
                _read(10, fd=6),  # another descriptor
                ThreadState(tid=11, state="running", syscall="running", blocked=False),
                _read(12, fd=9, blocked=False),  # same call, no longer blocked
            ]
        },
    )
    steady(first, last)
    assert [t.blocked for t in first.threads[10]] == [False, False, False]


def test_a_thread_or_process_that_ended_is_not_blocked() -> None:
    first = HangSnapshot(t_s=0.0, threads={10: [_read(10), _read(11)], 20: [_read(20)]})
    last = HangSnapshot(t_s=0.1, threads={10: [_read(10)]})  # thread 11 and pid 20 are gone
    steady(first, last)
    assert [t.blocked for t in first.threads[10]] == [True, False]
    assert first.threads[20][0].blocked is False


def test_steady_compares_the_futex_and_the_child_waited_for() -> None:
    futex = dict(syscall="futex", futex="wait private", futex_addr=0x1000, blocked=True)
    first = HangSnapshot(
        t_s=0.0,
        threads={
            10: [
                ThreadState(tid=10, state="sleeping", **futex),
                ThreadState(tid=11, state="sleeping", syscall="wait4", waits_for_pid=20,
                            blocked=True),
            ]
        },
    )  # fmt: skip
    last = HangSnapshot(
        t_s=0.1,
        threads={
            10: [
                ThreadState(tid=10, state="sleeping", **{**futex, "futex_addr": 0x2000}),
                ThreadState(tid=11, state="sleeping", syscall="wait4", waits_for_pid=20,
                            blocked=True),
            ]
        },
    )  # fmt: skip
    steady(first, last)
    assert [t.blocked for t in first.threads[10]] == [False, True]


# -- py-spy's JSON ---------------------------------------------------------------------------


def test_a_recorded_py_spy_dump_becomes_thread_stacks() -> None:
    # `py-spy dump --nonblocking --json` 0.4.3 of `python -c` (3.11.7): the main thread in
    # time.sleep at line 4, a thread "napper" whose target is time.sleep.
    threads = pyspy.parse_json((DATA / "pyspy_dump_sleeping.json").read_bytes())
    by_name = {t.name: t for t in threads}
    assert set(by_name) == {"napper", "MainThread"}
    main_thread = by_name["MainThread"]
    assert main_thread.tid == 29124 and main_thread.ident == 140119313161088
    assert [(f.file, f.line, f.function) for f in main_thread.frames] == [
        ("<string>", 4, "<module>")
    ]
    napper = by_name["napper"]
    assert napper.tid == 29125 and not napper.current
    # innermost first, and the code's name as faulthandler prints it (py-spy: "Thread.run")
    assert [f.function for f in napper.frames] == ["run", "_bootstrap_inner", "_bootstrap"]
    assert napper.frames[0].file.endswith("threading.py") and napper.frames[0].line == 982


@pytest.mark.parametrize("data", [b"", b"not json", b"{}", b'[1, "x", {"frames": [3]}]', b"null"])
def test_py_spy_output_that_is_not_a_dump_gives_what_it_can(data: bytes) -> None:
    threads = pyspy.parse_json(data)
    assert all(t.frames == [] for t in threads)
    assert len(threads) <= 1


def test_qualified_frame_names_keep_the_code_name() -> None:
    dump = (
        b'[{"thread_id": 1, "os_thread_id": 7, "thread_name": "Thread-1 (_handle_results)",'
        b' "frames": [{"name": "Pool._handle_results", "filename": "/py/multiprocessing/pool.py",'
        b' "line": 579}, {"name": "main.<locals>.<lambda>", "filename": "app.py", "line": 3},'
        b' {"name": "<module>", "filename": "app.py", "line": 9}, {"filename": "x.py"}]}]'
    )
    (thread,) = pyspy.parse_json(dump)
    assert [f.function for f in thread.frames] == ["_handle_results", "<lambda>", "<module>", "?"]
    assert thread.frames[3].line == 0


HAS_PYSPY = pyspy.executable() is not None and pyspy.ptrace_refusal(os.getpid()) is None


def _sleeper(code: str) -> subprocess.Popen[bytes]:
    """A python that prints a line once it is ready, then sleeps (own session, killed as a
    group)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    return proc


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


@ON_LINUX
@pytest.mark.skipif(not HAS_PYSPY, reason="py-spy not installed or ptrace not allowed")
def test_a_fresh_py_spy_dump_of_a_sleeping_python() -> None:
    code = "import time\ndef nap():\n    print('ready', flush=True)\n    time.sleep(30)\nnap()\n"
    proc = _sleeper(code)
    try:
        exe = pyspy.executable()
        assert exe is not None
        result = pyspy.dump([proc.pid], exe)
        assert result.skipped == {}, result.skipped
        (main_thread,) = result.stacks[proc.pid]
        # no name: py-spy reads names from `threading`, which this program never imported
        assert main_thread.tid == proc.pid
        assert [(f.file, f.line, f.function) for f in main_thread.frames] == [
            ("<string>", 4, "nap"),
            ("<string>", 5, "<module>"),
        ]
    finally:
        _kill(proc)


# -- a pipe also held outside the tree -------------------------------------------------------


_READER = "import os, sys\nfd = int(sys.argv[1])\nprint('ready', flush=True)\nos.read(fd, 1)\n"


def _blocked_reader(read_fd: int, extra_fds: tuple[int, ...] = ()) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _READER, str(read_fd)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        pass_fds=(read_fd, *extra_fds),
        start_new_session=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    return proc


def _settled_snapshot(pid: int) -> HangSnapshot:
    deadline = time.monotonic() + 10
    while True:
        snap = snapshot([pid], pipes=True)
        if any(t.blocked and t.syscall == "read" for t in snap.threads.get(pid, [])):
            return snap
        assert time.monotonic() < deadline, snap.threads
        time.sleep(0.02)


@ON_LINUX
def test_a_pipe_whose_writer_is_outside_the_tree_is_external() -> None:
    read_fd, write_fd = os.pipe()
    holder = reader = None
    try:
        # the writer: another process, outside the inspected tree (mpdoctor itself is ignored)
        holder = subprocess.Popen(
            [sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(30)"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            pass_fds=(write_fd,),
            start_new_session=True,
        )
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"ready"
        reader = _blocked_reader(read_fd)
        os.close(read_fd)
        os.close(write_fd)
        read_fd = write_fd = -1
        snap = _settled_snapshot(reader.pid)
        inode = os.stat(f"/proc/{reader.pid}/fd/{_fd_of(snap, reader.pid)}").st_ino
        (pipe,) = [p for p in snap.pipes if p.inode == inode]
        assert not pipe.external and pipe.writers == []  # only the tree's view so far
        hidden = mark_outside_holders(snap, {reader.pid})
        assert hidden == []  # root sees every process's descriptors
        assert pipe.external
    finally:
        for fd in (read_fd, write_fd):
            if fd >= 0:
                os.close(fd)
        for proc in (reader, holder):
            if proc is not None:
                _kill(proc)


@ON_LINUX
def test_a_pipe_held_only_inside_the_tree_stays_internal() -> None:
    read_fd, write_fd = os.pipe()
    reader = None
    try:
        reader = _blocked_reader(read_fd, extra_fds=(write_fd,))  # both ends, as after a fork
        os.close(read_fd)
        os.close(write_fd)
        read_fd = write_fd = -1
        snap = _settled_snapshot(reader.pid)
        assert mark_outside_holders(snap, {reader.pid}) == []
        waited = [p for p in snap.pipes if (reader.pid, _fd_of(snap, reader.pid)) in p.readers]
        assert len(waited) == 1 and not waited[0].external
        assert waited[0].writers  # the reader holds the write end too
    finally:
        for fd in (read_fd, write_fd):
            if fd >= 0:
                os.close(fd)
        if reader is not None:
            _kill(reader)


def _fd_of(snap: HangSnapshot, pid: int) -> int:
    (thread,) = [t for t in snap.threads[pid] if t.blocked and t.syscall == "read"]
    assert thread.fd is not None
    return thread.fd


@ON_LINUX
def test_the_parent_of_a_zombie_may_poll_a_lonely_queue() -> None:
    """Only a process with an ended child can poll a queue whose producer is gone: the pipes
    held by a single process are read for those only (orphaned-wait's suspected case)."""
    from mpdoctor.collect.inspect import parents_of_ended
    from mpdoctor.collect.inspect_target import check_target
    from mpdoctor.collect.live_tree import discover

    code = (
        "import os, time\n"
        "if os.fork() == 0: os._exit(0)\n"
        "print('ready', flush=True); time.sleep(30)"  # the child left a zombie
    )
    proc = _sleeper(code)
    try:
        deadline = time.monotonic() + 10
        while True:
            readings, _ = discover(check_target(proc.pid), 10)
            if any(r.state == "zombie" for r in readings) or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert parents_of_ended(readings, []) == {proc.pid}
        live_only = [r for r in readings if r.state != "zombie"]
        assert parents_of_ended(live_only, []) == set()
    finally:
        _kill(proc)


# -- the PID argument, in-process ------------------------------------------------------------


@pytest.mark.parametrize(
    ("arg", "line"),
    [
        ("abc", "mpdoctor: 'abc' is not a process id (a positive number)"),
        ("12x", "mpdoctor: '12x' is not a process id (a positive number)"),
        ("-5", "mpdoctor: -5 is not a process id (a positive number)"),
        ("0", "mpdoctor: 0 is not a process id (a positive number)"),
        ("", "mpdoctor: '' is not a process id (a positive number)"),
    ],
)
def test_a_bad_pid_is_one_line_and_exit_2(arg: str, line: str, capsys) -> None:
    assert main(["inspect", arg]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == line + "\n"


def test_a_negative_pid_after_an_option_is_still_a_pid(capsys) -> None:
    assert main(["inspect", "--no-stacks", "-7"]) == 2
    assert capsys.readouterr().err == "mpdoctor: -7 is not a process id (a positive number)\n"


def test_a_missing_pid_is_a_usage_error(capsys) -> None:
    assert main(["inspect"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mpdoctor: ") and "PID" in err and err.count("\n") == 1


@ON_LINUX
def test_no_such_process_is_exit_2(capsys) -> None:
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    free = next(p for p in range(pid_max - 1, 1, -1) if not os.path.exists(f"/proc/{p}"))
    assert main(["inspect", str(free)]) == 2
    assert capsys.readouterr().err == f"mpdoctor: no process with pid {free}\n"


@ON_LINUX
def test_mpdoctor_itself_is_refused(capsys) -> None:
    assert main(["inspect", str(os.getpid())]) == 2
    assert capsys.readouterr().err == f"mpdoctor: pid {os.getpid()} is mpdoctor itself\n"
