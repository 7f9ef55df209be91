"""Ending a tree: frozen first so it cannot respawn, bounded, never a stranger; reaping."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from mpdoctor.collect import identity, procfs, subreaper
from mpdoctor.collect.reaper import Reaper
from mpdoctor.collect.sampler import Sampler
from mpdoctor.collect.session import PROBE_ROOT, create_session, target_env
from mpdoctor.collect.teardown import end_tree, send
from mpdoctor.diagnose.evidence import ProcessKey

pytestmark = pytest.mark.skipif(not procfs.available(), reason="Linux /proc only")

# The supervisor ignores SIGTERM and keeps 3 workers alive, replacing each one that dies at
# once; the first worker stops itself.
SUPERVISOR = """
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
workers, first = set(), True
while True:
    while len(workers) < 3:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            if first:
                os.kill(os.getpid(), signal.SIGSTOP)
            time.sleep(0.02 if os.getpid() % 2 else 30)
            os._exit(0)
        first = False
        workers.add(pid)
    pid, _ = os.wait()
    workers.discard(pid)
"""


def test_a_stopped_respawning_tree_is_ended_within_bounds():
    # Its own process group: whatever happens to the test, the finally kills every worker,
    # stopped ones included (SIGKILL needs no SIGCONT).
    sup = subprocess.Popen([sys.executable, "-c", SUPERVISOR], start_new_session=True)
    try:
        sampler = Sampler(os.getpid(), time.time())
        deadline = time.monotonic() + 10
        while len(sampler.refresh()) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert any(sampler.processes()[k].state == "stopped" for k in sampler.alive())
        start = time.monotonic()
        result = end_tree(sampler, term_wait=0.5, kill_wait=0.5)
        assert time.monotonic() - start < 8
        assert result.survivors == []
        sup_key = identity.key_of(sup.pid)
        assert sup_key in result.ended and sup_key in result.killed  # it ignored SIGTERM
        assert sup.wait(timeout=5) == -signal.SIGKILL
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sup.pid, signal.SIGKILL)
        sup.wait()


def test_a_pid_with_another_create_time_is_never_signalled():
    proc = subprocess.Popen(["sleep", "30"])
    try:
        real = identity.key_of(proc.pid)
        assert real is not None
        assert not send(ProcessKey(proc.pid, real.create_time - 5), signal.SIGKILL)
        time.sleep(0.05)
        assert proc.poll() is None
        assert send(real, signal.SIGKILL)
        assert proc.wait(timeout=5) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()


def test_nothing_to_end_returns_at_once():
    class Empty:
        def refresh(self) -> list[ProcessKey]:
            return []

    start = time.monotonic()
    result = end_tree(Empty())
    assert result.rounds == 0 and not result.ended and time.monotonic() - start < 0.5


def test_reaper_takes_other_children_but_keeps_the_target_s_status():
    target = os.fork()
    if target == 0:
        os._exit(5)
    other = os.fork()
    if other == 0:
        os._exit(6)
    try:
        for pid in (target, other):
            deadline = time.monotonic() + 10
            while procfs.state_letter(pid) != "Z" and time.monotonic() < deadline:
                time.sleep(0.005)
        seen_before_reap: list[int] = []
        reaper = Reaper(target, before_reap=seen_before_reap.append)
        reaped = reaper.reap_orphans()
        assert [(r.pid, r.exit_code) for r in reaped] == [(other, 6)]
        assert reaped[0].key is not None and reaped[0].key.pid == other
        assert reaper.poll_target() is not None and reaper.poll_target().exit_code == 5
        assert sorted(seen_before_reap) == sorted([target, other])
    finally:
        for pid in (target, other):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def test_subreaper_is_enabled_in_a_fresh_process():
    code = (
        "from mpdoctor.collect import subreaper as s\n"
        "print(s.is_enabled(), s.enable(), s.is_enabled())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=PROBE_ROOT.parent.parent,
        check=True,
    )
    assert out.stdout.split() == ["False", "True", "True"]
    assert subreaper.PR_SET_CHILD_SUBREAPER == 36


def test_session_dir_is_private_and_the_env_keeps_the_user_s_path():
    session = create_session()
    try:
        assert stat.S_IMODE(os.stat(session.path).st_mode) == 0o700
        assert session.events_dir.is_dir()
        env = target_env(session, "debug", base={"PYTHONPATH": "/a:/b", "HOME": "/h"})
        assert env["PYTHONPATH"] == f"{PROBE_ROOT}:/a:/b"
        assert env["MPDOCTOR_SESSION"] == str(session.path)
        assert env["MPDOCTOR_MP_LOG"] == "debug" and env["HOME"] == "/h"
        # An empty PYTHONPATH would add the cwd to sys.path: it adds nothing.
        assert target_env(session, base={"PYTHONPATH": ""})["PYTHONPATH"] == str(PROBE_ROOT)
        assert target_env(session, base={})["PYTHONPATH"] == str(PROBE_ROOT)
        with pytest.raises(ValueError):
            target_env(session, "loud")
    finally:
        session.cleanup()
    assert not session.path.exists()
