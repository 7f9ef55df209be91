"""The session of the `mpdoctor run` that started a live tree, for `mpdoctor inspect`.

A tree started by `mpdoctor run` carries MPDOCTOR_SESSION in its environment; its probe files
give the roles, the events and the stacks (faulthandler, only for processes that registered).
The directory named there is believed only when it is private (mode 0700), owned by the
process's user, and holds events/ and stacks/: a process cannot point inspect at files of its
choosing.
"""

from __future__ import annotations

import os
from pathlib import Path

from mpdoctor.collect import procfs
from mpdoctor.collect.events import ProcessEvents, StartEvent
from mpdoctor.collect.session import SESSION_VAR


def session_of(pids: list[int]) -> Path | None:
    """The session directory of the `mpdoctor run` that started these processes, from the
    first one whose environment names one; only a private directory (mode 0700) owned by the
    process's user, holding events/ and stacks/, is believed."""
    needle = SESSION_VAR.encode() + b"="
    for pid in pids:
        try:
            with open(f"{procfs.PROC}/{pid}/environ", "rb") as f:
                environ = f.read()
            owner = os.stat(f"{procfs.PROC}/{pid}").st_uid
        except OSError:
            continue
        for item in environ.split(b"\0"):
            if item.startswith(needle) and len(item) > len(needle):
                path = Path(os.fsdecode(item[len(needle) :]))
                if _trusted_session(path, owner):
                    return path
    return None


def _trusted_session(path: Path, owner: int) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return (
        st.st_uid == owner
        and st.st_mode & 0o077 == 0
        and (path / "events").is_dir()
        and (path / "stacks").is_dir()
    )


def tree_streams(streams: list[ProcessEvents], tree: set[int]) -> list[ProcessEvents]:
    """The probe files of the tree's processes and of their descendants that already ended
    (a producer that died): a file whose process is in the tree, or whose parent's is."""
    wanted = set(tree)
    ordered = sorted(streams, key=lambda s: s.events[0].t if s.events else 0.0)
    kept = []
    for stream in ordered:
        start = stream.first(StartEvent)
        if stream.pid in wanted or (start is not None and start.ppid in wanted):
            wanted.add(stream.pid)
            kept.append(stream)
    return kept


def sizes_of(streams: list[ProcessEvents]) -> dict[Path, int]:
    """The size of each probe file: one that grew means its process wrote an event."""
    sizes = {}
    for stream in streams:
        try:
            sizes[stream.path] = os.stat(stream.path).st_size
        except OSError:
            sizes[stream.path] = -1
    return sizes
