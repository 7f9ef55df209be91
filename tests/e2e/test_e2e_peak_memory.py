"""A process's peak memory is its own program's or unknown, never mpdoctor's or its parent's.

wait4's ru_maxrss and a VmHWM read before an exec both count the address space the process had
before it: under posix_spawn (and vfork) mpdoctor's own, after a fork a copy of its parent's.
So a main process too short-lived to be sampled showed mpdoctor's peak (~17 MiB for `sleep`),
and a fork child sampled before its exec kept its parent's. Each test measures the bound it
needs here (the program's own peak, mpdoctor's own) rather than trusting a constant.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_support import run_mpdoctor

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc only")

MIB = 1 << 20

# Prints its own VmHWM and its parent's (under `mpdoctor run`: mpdoctor's), then ends at once.
SELF_AND_PARENT_PEAK = """\
import os
def peak(pid):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
print(peak("self"), peak(os.getppid()))
"""


def _peak(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


def _plain_sleep_peak() -> int:
    """VmHWM of `sleep` run plainly, read once it has exec'd."""
    proc = subprocess.Popen(["sleep", "30"])
    try:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{proc.pid}/cmdline").read_bytes() != b"sleep\x0030\x00":
            assert time.monotonic() < deadline, "sleep never started"
            time.sleep(0.01)
        time.sleep(0.05)  # past its start-up
        return _peak(proc.pid)
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _mpdoctor_own_peak(tmp_path: Path) -> int:
    """mpdoctor's VmHWM while it runs a program, read by that program."""
    script = tmp_path / "peaks.py"
    script.write_text(SELF_AND_PARENT_PEAK)
    result = run_mpdoctor(["run", "-q", "--mp-log", "off", str(script)], timeout=60)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split()[1])


def _report(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[bytes], dict]:
    report = tmp_path / "r.json"
    result = run_mpdoctor(["run", "-q", "--mp-log", "off", "--report", str(report), *args])
    assert result.returncode == 0, result.stderr
    return result, json.loads(report.read_text())


def _main(data: dict) -> dict:
    (main,) = [p for p in data["processes"] if p["role"] == "main"]
    return main


def test_a_command_too_short_to_sample_is_not_given_mpdoctor_s_peak(tmp_path):
    own, plain = _mpdoctor_own_peak(tmp_path), _plain_sleep_peak()
    bound = 2 * plain + MIB
    assert own > 2 * bound  # else this test could not tell the two apart
    for _ in range(3):  # a run that happens to sample it alive proves nothing: try a few
        _, data = _report(tmp_path, "--", "sleep", "0.01")
        main = _main(data)
        assert main["peak_rss_bytes"] is None or main["peak_rss_bytes"] <= bound, (own, plain)
        # Gone before /proc showed its command line: what mpdoctor executed.
        assert main["cmdline"] == ["sleep", "0.01"]
        assert main["name"] == "sleep"


def test_a_short_python_script_shows_its_own_peak_or_none(tmp_path):
    """The QA case: a script that prints and ends, whose peak it measures itself."""
    script = tmp_path / "peaks.py"
    script.write_text(SELF_AND_PARENT_PEAK)
    for _ in range(3):
        result, data = _report(tmp_path, str(script))
        itself, mpdoctor = (int(n) for n in result.stdout.split())
        bound = itself + 2 * MIB  # what it may add between its print and its end
        assert mpdoctor > bound + MIB  # else this test could not tell the two apart
        main = _main(data)
        assert main["peak_rss_bytes"] is None or main["peak_rss_bytes"] <= bound
        assert main["cmdline"] == data["command"]
        assert main["cmdline"][-1] == str(script)


def test_a_fork_child_sampled_before_its_exec_shows_the_new_program_s_peak(tmp_path):
    """Sampled while a copy of its 200 MiB parent, then exec'd into `sleep`: the row is
    sleep's, with sleep's peak, not the copy's."""
    program = tmp_path / "fork_exec.py"
    program.write_text(
        "import os, time\n"
        "ballast = b'x' * (200 << 20)  # resident: written byte by byte\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    time.sleep(1.2)  # the sampler sees the copy (a tick is 1 s at the most)\n"
        "    os.execvp('sleep', ['sleep', '2.5'])  # and the program after: as long again\n"
        "os.waitpid(pid, 0)\n"
    )
    plain = _plain_sleep_peak()
    started = time.monotonic()
    _, data = _report(tmp_path, str(program))
    assert time.monotonic() - started < 30
    main = _main(data)
    assert main["peak_rss_bytes"] >= 200 * MIB  # the parent: sampled, its own
    (child,) = [p for p in data["processes"] if p["ppid"] == main["pid"]]
    assert child["cmdline"] == ["sleep", "2.5"] and child["name"] == "sleep"
    assert child["peak_rss_bytes"] is not None and child["peak_rss_bytes"] <= 2 * plain + MIB
