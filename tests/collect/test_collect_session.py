"""Where the session directory goes, and what it looks like."""

from __future__ import annotations

import os
import stat

import pytest

from mpdoctor.collect import session as session_module
from mpdoctor.collect.session import create_session, session_parent


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
