"""The /proc readers, the identity they give, and the cgroup OOM counter."""

from __future__ import annotations

import os
import signal
import sys
import time

import psutil
import pytest

from mpdoctor.collect import cgroup, identity, procfs
from mpdoctor.diagnose.evidence import ProcessKey

pytestmark = pytest.mark.skipif(not procfs.available(), reason="Linux /proc only")


def _gone_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_readers_return_none_for_a_gone_process():
    pid = _gone_pid()
    assert procfs.read_stat(pid) is None
    assert procfs.state_letter(pid) is None
    assert procfs.peak_rss_bytes(pid) is None
    assert procfs.zombie_exit_status(pid) is None
    assert procfs.start_ticks(pid) is None
    assert procfs.cmdline(pid) is None
    assert procfs.exe(pid) is None
    assert procfs.children(pid) is None
    assert identity.key_of(pid) is None


def test_readers_describe_this_process():
    me = os.getpid()
    stat = procfs.read_stat(me)
    assert stat is not None
    assert stat.state == "R" and stat.ppid == os.getppid()
    assert stat.num_threads == psutil.Process().num_threads()
    assert procfs.peak_rss_bytes(me) >= psutil.Process().memory_info().rss // 2
    assert procfs.cmdline(me) == psutil.Process().cmdline()
    assert procfs.exe(me) == psutil.Process().exe()


def test_a_comm_with_spaces_and_parentheses_parses(tmp_path):
    odd = tmp_path / "a) b (c"
    os.symlink(sys.executable, odd)
    proc = psutil.Popen([str(odd), "-c", "import time; time.sleep(10)"])
    try:
        stat = procfs.read_stat(proc.pid)
        assert stat is not None and stat.comm == "a) b (c" and stat.ppid == os.getpid()
    finally:
        proc.kill()
        proc.wait()


def test_zombie_exit_status_is_the_wait_status():
    codes = {}
    for how in ("exit3", "kill"):
        pid = os.fork()
        if pid == 0:
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            os._exit(3)
        deadline = time.monotonic() + 10
        while procfs.state_letter(pid) != "Z" and time.monotonic() < deadline:
            time.sleep(0.005)
        codes[how] = procfs.zombie_exit_status(pid)
        assert os.waitpid(pid, 0)[1] == codes[how]
    assert codes == {"exit3": 3 << 8, "kill": signal.SIGKILL}


def test_the_image_is_a_fork_s_copy_until_its_exec_and_gone_with_a_zombie():
    """What tells an exec apart (the identity stays): a fork child is mapped where its parent
    is until it execs; a zombie has no address space left."""
    mine = procfs.read_stat(os.getpid()).image
    assert mine is not None
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the copy: wait for the go, then become `sleep`
        os.close(w)
        os.read(r, 1)
        os.execvp("sleep", ["sleep", "10"])
    os.close(r)
    try:
        assert procfs.read_stat(pid).image == mine
        os.write(w, b"x")
        deadline = time.monotonic() + 10
        while procfs.cmdline(pid) != ["sleep", "10"]:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        after = procfs.read_stat(pid)
        assert after.image is not None and after.image != mine
        assert after.start_ticks == procfs.read_stat(pid).start_ticks  # the same process
        os.kill(pid, signal.SIGKILL)
        while procfs.state_letter(pid) != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert procfs.read_stat(pid).image is None
    finally:
        os.close(w)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)


def test_ancestors_go_up_from_the_parent_to_the_top():
    chain = procfs.ancestors(os.getpid())
    assert chain[0] == os.getppid()
    assert psutil.Process(chain[-1]).ppid() == 0  # pid 1, or the top of this namespace
    assert [p.pid for p in psutil.Process().parents()] == chain
    assert procfs.ancestors(2**22 + 1) == []  # no such process


def test_children_lists_direct_children():
    proc = psutil.Popen([sys.executable, "-c", "import time; time.sleep(10)"])
    try:
        assert proc.pid in (procfs.children(os.getpid()) or [])
    finally:
        proc.kill()
        proc.wait()


def test_identity_equals_psutil_create_time_exactly():
    proc = psutil.Popen([sys.executable, "-c", "import time; time.sleep(10)"])
    try:
        key = identity.key_of(proc.pid)
        assert key == ProcessKey(proc.pid, round(psutil.Process(proc.pid).create_time(), 2))
        assert identity.is_same(key)
        assert not identity.is_same(ProcessKey(proc.pid, key.create_time - 1))
    finally:
        proc.kill()
        proc.wait()


def test_probe_ticks_give_the_same_key_as_the_sampler():
    ticks = procfs.start_ticks(os.getpid())
    assert identity.key_from_ticks(os.getpid(), ticks) == identity.key_of(os.getpid())


def test_oom_counter_is_an_int_or_none():
    value = cgroup.oom_kills()
    assert value is None or value >= 0
    assert cgroup.oom_kills_between(None, 3) is None
    assert cgroup.oom_kills_between(2, 5) == 3


def _fake_proc(tmp_path, cgroup_lines, mount_lines):
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "cgroup").write_text("\n".join(cgroup_lines) + "\n")
    (proc / "mountinfo").write_text("\n".join(mount_lines) + "\n")
    return str(proc)


def test_oom_counter_from_cgroup_v2_memory_events(tmp_path):
    mount = tmp_path / "cg2"
    (mount / "user.slice" / "run").mkdir(parents=True)
    (mount / "user.slice" / "run" / "memory.events").write_text(
        "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\noom_group_kill 0\n"
    )
    proc = _fake_proc(
        tmp_path,
        ["0::/user.slice/run"],
        [f"35 24 0:30 / {mount} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate"],
    )
    assert cgroup.oom_kills(proc) == 2


def test_oom_counter_from_cgroup_v2_inside_a_container_namespace(tmp_path):
    mount = tmp_path / "cg2"
    mount.mkdir()
    (mount / "memory.events").write_text("oom_kill 5\n")
    # The container's cgroup is the mount's root: /proc/self/cgroup says "/".
    proc = _fake_proc(tmp_path, ["0::/"], [f"35 24 0:30 / {mount} rw - cgroup2 cgroup2 rw"])
    assert cgroup.oom_kills(proc) == 5


def test_oom_counter_from_cgroup_v1_oom_control(tmp_path):
    mount = tmp_path / "memory"
    (mount / "job").mkdir(parents=True)
    (mount / "job" / "memory.oom_control").write_text(
        "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"
    )
    proc = _fake_proc(
        tmp_path,
        ["4:memory:/job", "1:cpu:/", "0::/"],
        [
            f"35 31 0:32 / {mount} rw - cgroup cgroup rw,memory",
            f"41 31 0:38 / {tmp_path}/unified rw - cgroup2 cgroup2 rw",
        ],
    )
    assert cgroup.oom_kills(proc) == 1


def test_oom_counter_unreadable_is_none(tmp_path):
    assert cgroup.oom_kills(_fake_proc(tmp_path, ["0::/x"], [])) is None
