"""The samples themselves, run by plain python: the baseline the mpdoctor tests compare against.

Every sample must state its expectations, exit as its `Exit:` line says under every start
method on 3.8, 3.11 and 3.13 (3.8 and 3.13 marked slow), finish in a few seconds, and (for
correct ones) print no traceback. A sample that says `Exit: hangs` must still be running after
a few seconds (with no traceback, unless a child is expected to crash); it is started in a
session of its own, and the whole process group is killed and must be gone at the end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from cli_support import end_group  # noqa: E402
from sample_meta import ALL_METHODS, all_samples  # noqa: E402

ROOT = HERE.parent.parent
SAMPLES = all_samples(ROOT / "samples")
LAUNCHER = HERE / "with_start_method.py"
PYTHONS = {
    "3.8": Path("/root/.pyenv/versions/3.8.18/bin/python"),
    "3.11": Path(sys.executable),
    "3.13": Path("/root/.pyenv/versions/3.13.0/bin/python"),
}


def test_every_finding_made_so_far_has_a_sample():
    expected = {
        "process-crashed",
        "worker-died",
        "orphan-process",
        "zombie-process",
        "leaked-resource",
        "missing-main-guard",
        "initializer-failed",
        "unpicklable-callable",
        "unpicklable-object",
        "unpicklable-result",
        "unpicklable-exception",
        "interactive-main",
        "child-stdin",
        "daemon-children",
        "start-method-conflict",
        "manager-gone",
        "respawn-loop",
        "join-deadlock",
        "orphaned-wait",
        "pool-terminated",
        "fork-with-threads",
        "no-progress",
    }
    assert expected <= {fid for s in SAMPLES for fid in s.expect}
    assert sum(s.correct for s in SAMPLES) >= 11


HANG_CHECK_S = 2.0  # a hanging sample must still be running after this long
CLEANUP_S = 10.0  # bound for reaping the leader and for the whole group to be gone


def _group_members(pgid: int) -> list[str]:
    """The live processes of process group `pgid` ("pid state comm"), from /proc. Zombies are
    left out: they are dead, waiting for init (their new parent) to reap them."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # ended meanwhile
            continue
        comm, _, rest = stat.partition(" (")[2].rpartition(")")
        fields = rest.split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(f"{entry} {fields[0]} {comm}")
    return members


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _assert_hangs(sample, argv: list[str], tmp_path: Path) -> None:
    """Run a hanging sample in a session of its own: still running after HANG_CHECK_S, then
    SIGTERM and SIGKILL for its whole process group (`end_group`), and none of it left
    afterwards."""
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            argv,
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            start_new_session=True,
        )
    pgid = proc.pid  # a session leader leads its process group too
    try:
        try:
            proc.wait(timeout=HANG_CHECK_S)
        except subprocess.TimeoutExpired:
            pass
        returncode = proc.returncode  # None: still running, as it should be
    finally:
        try:
            end_group(pgid, proc)
        finally:
            deadline = time.monotonic() + CLEANUP_S
            left = _group_members(pgid)
            while left and time.monotonic() < deadline:
                _kill_group(pgid)  # also whatever was forked while the first signal flew
                time.sleep(0.05)
                left = _group_members(pgid)
    stderr_text = err.read_text(errors="replace")
    assert returncode is None, f"ended by itself with {returncode}:\n{stderr_text}"
    if "process-crashed" not in sample.expect:  # a crashing child prints its traceback
        assert "Traceback" not in stderr_text, stderr_text
    assert left == [], f"left running after SIGKILL of group {pgid}: {left}"


# 3.11 (the CLI's interpreter) in every run; the other versions with the slow marker.
VERSIONS = [v if v == "3.11" else pytest.param(v, marks=pytest.mark.slow) for v in sorted(PYTHONS)]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.path.stem)
def test_sample_runs_as_documented(sample, method, version, tmp_path, request):
    python = PYTHONS[version]
    if not python.exists():
        pytest.skip(f"no Python {version} at {python}")
    if not sample.correct:
        # e.g. a Pool.terminate() that kills workers between creating a semaphore and
        # registering it: without mpdoctor nothing unlinks it (the fixture still does)
        request.node.add_marker(pytest.mark.program_leaks_shm)
    if sample.hangs:
        _assert_hangs(sample, [str(python), str(LAUNCHER), method, str(sample.path)], tmp_path)
        return
    proc = subprocess.run(
        [str(python), str(LAUNCHER), method, str(sample.path)],
        capture_output=True,
        timeout=20,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    stderr = proc.stderr.decode(errors="replace")
    assert proc.returncode == sample.exit_code, stderr
    if sample.correct:
        assert "Traceback" not in stderr
        assert "Warning" not in stderr
