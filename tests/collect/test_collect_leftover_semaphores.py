"""Which named semaphores the monitor unlinks once the tree is gone (files in a directory of
the test's standing in for /dev/shm; the real thing is tested end to end in test_e2e_faithful)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from mpdoctor.collect.events import ProcessEvents, ResourceEvent
from mpdoctor.collect.leftover_semaphores import candidates, unlink_leftovers


def _stream(*ops: tuple[str, str, float]) -> ProcessEvents:
    events = [ResourceEvent("resource", t, 7, op, name, "semaphore", None) for op, name, t in ops]
    return ProcessEvents(7, 1, Path("7-1.jsonl"), events)


def _sem(shm: Path, name: str) -> Path:
    path = shm / ("sem." + name.lstrip("/"))
    path.write_bytes(b"\0" * 32)
    return path


def test_only_names_never_unregistered_are_candidates() -> None:
    now = time.time()
    streams = [
        _stream(("create", "/mp-a", now), ("register", "/mp-a", now + 0.1)),
        _stream(("create", "/mp-b", now)),  # killed before it registered
        _stream(("create", "/mp-c", now), ("register", "/mp-c", now), ("unregister", "/mp-c", now)),
        _stream(("register", "/mp-d", now)),  # a probe that started late
    ]
    assert candidates(streams) == {"/mp-a": None, "/mp-b": now, "/mp-d": None}


def test_leftovers_are_unlinked_and_a_semaphore_older_than_its_name_is_not(tmp_path) -> None:
    for name in ("/mp-a", "/mp-b", "/mp-old"):
        _sem(tmp_path, name)
    later = time.time() + 60  # the name of mp-old was written after its file existed
    streams = [
        _stream(("register", "/mp-a", time.time())),
        _stream(("create", "/mp-b", time.time() - 1)),
        _stream(("create", "/mp-old", later)),
        _stream(("create", "/mp-gone", time.time())),  # never created, or unlinked since
    ]
    assert sorted(unlink_leftovers(streams, shm=tmp_path)) == ["/mp-a", "/mp-b"]
    assert sorted(os.listdir(tmp_path)) == ["sem.mp-old"]


def test_what_is_not_a_plain_file_is_left_alone(tmp_path) -> None:
    (tmp_path / "sem.mp-dir").mkdir()
    (tmp_path / "sem.mp-link").symlink_to(_sem(tmp_path / "sem.mp-dir", "/mp-inside"))
    streams = [_stream(("register", "/mp-dir", 0.0), ("register", "/mp-link", 0.0))]
    assert unlink_leftovers(streams, shm=tmp_path) == []
    assert (tmp_path / "sem.mp-link").is_symlink()
