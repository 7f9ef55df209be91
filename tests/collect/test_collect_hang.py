"""Hang snapshots of real stalled trees and the wait-for graph over them (groundwork for the
hang issue): a join-before-drain cycle and a read nobody can satisfy are proven; a program that
only sleeps, or whose join() has a timeout, proves nothing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_support import end_group

from mpdoctor.collect.hang import snapshot
from mpdoctor.diagnose.waitgraph import join_before_drain, orphaned_reads, stuck

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc"),
]

TARGETS = Path(__file__).resolve().parent / "targets"


def _stalled(code_or_path, settle: float = 1.5, stdin=None):
    argv = [sys.executable, str(code_or_path)]
    if not isinstance(code_or_path, Path):
        argv = [sys.executable, "-c", code_or_path]
    proc = subprocess.Popen(
        argv,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    line = proc.stdout.readline()
    time.sleep(settle)
    return proc, int(line) if line.strip() else None


def _end(proc) -> None:
    end_group(proc.pid, proc)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_join_before_drain_is_a_proven_cycle(method) -> None:
    script = TARGETS / "join_before_drain.py"
    code = f"import multiprocessing as mp, runpy, sys; mp.set_start_method('{method}'); "
    code += f"sys.argv = ['{script}']; runpy.run_path('{script}', run_name='__main__')"
    proc, child = _stalled(code)
    try:
        snap = snapshot([proc.pid, child])
        members = stuck(snap)
        [cycle] = join_before_drain(snap, members)
        assert (cycle.joiner, cycle.child) == (proc.pid, child)
        # full: a write that no longer fits blocks (FAILURES.md saw 62,029 B of 64 KiB)
        assert cycle.queued is not None and cycle.queued > 60_000
        assert orphaned_reads(snap, members) == []
    finally:
        _end(proc)


def test_get_after_the_producer_died_is_an_orphaned_read() -> None:
    proc, _child = _stalled(TARGETS / "get_after_producer_died.py")
    try:
        snap = snapshot([proc.pid])
        members = stuck(snap)
        [read] = orphaned_reads(snap, members)
        assert read.pid == proc.pid
        assert join_before_drain(snap, members) == []
    finally:
        _end(proc)


@pytest.mark.parametrize(
    "code",
    [
        # sleeping is not a deadlock
        "import time; print('', flush=True); time.sleep(30)",
        # join(timeout) waits in poll with a timeout: timed, never proven
        "import multiprocessing as mp, time\n"
        "def f(q):\n    q.put('x' * 1_000_000)\n"
        "if __name__ == '__main__':\n"
        "    q = mp.Queue(); p = mp.Process(target=f, args=(q,)); p.start()\n"
        "    print(p.pid, flush=True)\n"
        "    while p.is_alive():\n        p.join(timeout=0.2)\n",
    ],
)
def test_timed_waits_prove_nothing(code) -> None:
    proc, child = _stalled(code)
    try:
        snap = snapshot([proc.pid] + ([child] if child else []))
        members = stuck(snap)
        assert join_before_drain(snap, members) == [] and orphaned_reads(snap, members) == []
    finally:
        _end(proc)


def test_a_pipe_held_outside_is_external_and_the_tree_s_tables_are_not_read() -> None:
    """A read of stdin that this test process writes: never provable, and no rule needs the
    other descriptors of the tree (nobody polls a lonely queue), so they are not read."""
    code = "import os, sys; print(os.getpid(), flush=True); sys.stdin.read()"
    proc, pid = _stalled(code, settle=0.5, stdin=subprocess.PIPE)
    try:
        assert pid == proc.pid
        snap = snapshot([proc.pid], lonely_for=set())
        [pipe] = snap.pipes
        assert pipe.external and pipe.readers == [(proc.pid, 0)] and pipe.writers == []
        assert stuck(snap) == set()
        # with every process a possible poller, its stdout (held by it alone) is read too
        full = snapshot([proc.pid])
        assert {p.inode for p in full.pipes} > {pipe.inode}
        assert all(p.external for p in full.pipes)  # stdout's reader is this process
    finally:
        proc.stdin.close()
        _end(proc)
