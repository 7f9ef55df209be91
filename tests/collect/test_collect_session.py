"""Where the session directory goes, and what it looks like."""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import sys
import time

import pytest

from mpdoctor.collect import identity, procfs, stale_sessions
from mpdoctor.collect import session as session_module
from mpdoctor.collect.session import create_session, session_parent
from mpdoctor.diagnose.evidence import ProcessKey


def test_a_tmpdir_the_user_set_is_honoured(tmp_path):
    assert session_parent({"TMPDIR": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)}) is None


def test_a_private_runtime_dir_is_preferred(tmp_path):
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    assert session_parent({"XDG_RUNTIME_DIR": str(runtime)}) == str(runtime)


@pytest.mark.skipif(not os.access("/dev/shm", os.W_OK), reason="no writable /dev/shm")
def test_a_shared_or_missing_runtime_dir_is_not_used(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    assert session_parent({"XDG_RUNTIME_DIR": str(shared)}) == "/dev/shm"
    assert session_parent({"XDG_RUNTIME_DIR": str(tmp_path / "absent")}) == "/dev/shm"
    assert session_parent({}) == "/dev/shm"


def test_a_ram_file_system_without_room_to_spare_is_not_used(tmp_path, monkeypatch):
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setattr(session_module, "MIN_FREE_RAM_FS", 1 << 62)  # more than any disk
    assert session_parent({"XDG_RUNTIME_DIR": str(runtime)}) is None


def test_the_session_is_private_and_has_an_events_directory(tmp_path):
    session = create_session(str(tmp_path))
    try:
        assert session.path.parent == tmp_path
        assert stat.S_IMODE(session.path.stat().st_mode) == 0o700
        assert stat.S_IMODE(session.events_dir.stat().st_mode) == 0o700
    finally:
        session.cleanup()
    assert not session.path.exists()


# -- stale sessions: what a SIGKILLed run left behind ------------------------------------------

OLD = time.time() - 2 * stale_sessions.QUIET_S


def _session(parent, owner: ProcessKey | None, registered=(), age: float | None = OLD):
    """A session directory as a run leaves it, every time stamp set to `age`."""
    session = create_session(str(parent))
    if owner is not None:
        (session.path / stale_sessions.OWNER_FILE).write_text(
            f"{owner.pid} {owner.create_time!r}\n"
        )
    for pid, ticks in registered:
        (session.events_dir / f"{pid}-{ticks}.jsonl").write_text('{"e":"start"}\n')
    if age is not None:
        for path in [*session.events_dir.iterdir(), session.events_dir, session.path]:
            os.utime(path, (age, age))
    return session.path


def _ticks(pid: int) -> int:
    return procfs.start_ticks(pid)


def _dead_key() -> ProcessKey:
    """Our pid with another start time: what a dead owner looks like after pid reuse."""
    me = identity.key_of(os.getpid())
    return ProcessKey(me.pid, me.create_time - 1000.0)


@pytest.mark.skipif(not procfs.available(), reason="needs /proc")
def test_a_session_whose_owner_and_processes_are_dead_is_swept(tmp_path):
    keep = create_session(str(tmp_path)).path
    stale = _session(tmp_path, _dead_key(), registered=[(os.getpid(), _ticks(os.getpid()) + 1)])
    assert stale_sessions.sweep(tmp_path, keep=keep) == [stale]
    assert not stale.exists() and keep.exists()


@pytest.mark.skipif(not procfs.available(), reason="needs /proc")
def test_a_session_that_may_still_be_in_use_is_kept(tmp_path):
    me = identity.key_of(os.getpid())
    kept = [
        _session(tmp_path, me),  # its mpdoctor is running
        _session(tmp_path, _dead_key(), registered=[(me.pid, _ticks(me.pid))]),  # tree alive
        _session(tmp_path, _dead_key(), age=None),  # written a moment ago
        _session(tmp_path, None, age=time.time() - 3600),  # unclaimed, an hour old
    ]
    loose = _session(tmp_path, _dead_key())
    loose.chmod(0o755)  # not a directory a run made
    kept.append(loose)
    assert stale_sessions.sweep(tmp_path, keep=tmp_path / "none") == []
    assert all(path.exists() for path in kept)


@pytest.mark.skipif(not procfs.available(), reason="needs /proc")
def test_an_unclaimed_session_a_day_old_is_swept_and_a_link_is_not_followed(tmp_path):
    day_old = time.time() - stale_sessions.UNCLAIMED_MAX_AGE_S - 60
    unclaimed = _session(tmp_path, None, age=day_old)
    (tmp_path / "elsewhere").mkdir()
    target = _session(tmp_path / "elsewhere", _dead_key())
    link = tmp_path / "mpdoctor-link"
    link.symlink_to(target)
    assert stale_sessions.sweep(tmp_path, keep=tmp_path / "none") == [unclaimed]
    assert target.exists() and link.is_symlink()


def test_a_run_claims_its_session(tmp_path):
    session = create_session(str(tmp_path))
    fd = stale_sessions.claim(session.path)
    try:
        pid, create_time = (session.path / "owner").read_text().split()
        assert ProcessKey(int(pid), float(create_time)) == identity.key_of(os.getpid())
    finally:
        stale_sessions.release(fd)


@pytest.mark.skipif(not procfs.available(), reason="needs /proc")
def test_a_session_whose_run_holds_its_lock_is_kept_though_its_owner_looks_dead(tmp_path):
    # A run in another pid namespace (or host) names a pid that means nothing here: its lock,
    # held for the whole run, keeps its session even once it has been quiet for long.
    session = _session(tmp_path, _dead_key())
    held = os.open(session / stale_sessions.OWNER_FILE, os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert stale_sessions.sweep(tmp_path, keep=tmp_path / "none") == []
        assert session.exists()
    finally:
        os.close(held)
    assert stale_sessions.sweep(tmp_path, keep=tmp_path / "none") == [session]


@pytest.mark.skipif(not procfs.available(), reason="needs /proc")
def test_a_session_whose_registered_processes_are_zombies_is_swept(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        ticks = _ticks(child.pid)
        deadline = time.monotonic() + 10
        while procfs.state_letter(child.pid) != "Z" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert procfs.state_letter(child.pid) == "Z"
        stale = _session(tmp_path, _dead_key(), registered=[(child.pid, ticks)])
        assert stale_sessions.sweep(tmp_path, keep=tmp_path / "none") == [stale]
    finally:
        child.wait(timeout=10)


@pytest.mark.skipif(not procfs.available(), reason="needs /proc")
def test_an_odd_file_name_in_a_session_does_not_stop_the_sweep(tmp_path):
    odd = _session(tmp_path, _dead_key())
    (odd / "events" / "1-\u00b2.jsonl").write_text("")  # '²'.isdigit(), yet int() fails
    os.utime(odd / "events", (OLD, OLD))
    os.utime(odd / "events" / "1-\u00b2.jsonl", (OLD, OLD))
    stale = _session(tmp_path, _dead_key())
    assert stale in stale_sessions.sweep(tmp_path, keep=tmp_path / "none")
