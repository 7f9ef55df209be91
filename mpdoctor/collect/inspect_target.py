"""`mpdoctor inspect`'s target: whether a pid can be inspected, and the errors that say why not.

A target must exist, be readable in /proc, be neither a zombie nor a kernel thread, and not be
mpdoctor itself. Each refusal is an `MpdoctorError` carrying inspect's exit code (see
`cli/inspect.py`), so the user reads one `mpdoctor: ...` line.
"""

from __future__ import annotations

import os

from mpdoctor.collect import procfs
from mpdoctor.collect.sampler import ProcfsReader, Reading
from mpdoctor.errors import MpdoctorError

EXIT_FINDINGS = 1  # an error-level finding
EXIT_BAD_TARGET = 2  # not a number, no such process, zombie, kernel thread, /proc hidden
EXIT_GONE = 3  # the target exited (or its pid was reused) during the inspection


class TargetGone(MpdoctorError):
    exit_code = EXIT_GONE


class BadTarget(MpdoctorError):
    exit_code = EXIT_BAD_TARGET


def check_target(pid: int) -> Reading:
    """The target's first reading, or the error that says why it cannot be inspected."""
    if not procfs.available():
        raise BadTarget("inspect needs Linux's /proc", hint="it is not mounted here")
    if pid <= 0:
        raise BadTarget(f"{pid} is not a process id (a positive number)")
    if pid == os.getpid():
        raise BadTarget(f"pid {pid} is mpdoctor itself")
    if not os.path.exists(f"{procfs.PROC}/{pid}"):
        raise BadTarget(f"no process with pid {pid}")
    reading = ProcfsReader().read(pid)
    if reading is None:
        if os.path.exists(f"{procfs.PROC}/{pid}"):
            raise BadTarget(
                f"access denied to /proc/{pid}",
                hint="/proc is mounted with hidepid: run as root or as the process's user",
            )
        raise BadTarget(f"no process with pid {pid}")
    if reading.state in ("zombie", "exited"):
        parent = reading.ppid
        raise BadTarget(
            f"pid {pid} is a zombie: it has exited and waits for its parent (pid {parent}) "
            "to reap it; inspect the parent instead",
        )
    if procfs.is_kernel_thread(pid):
        raise BadTarget(f"pid {pid} is a kernel thread ({reading.comm}), not a program")
    return reading
