"""The private session directory shared with the probe, and the target's environment."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SESSION_VAR = "MPDOCTOR_SESSION"
MP_LOG_VAR = "MPDOCTOR_MP_LOG"
# --start-method: the default start method every process of the tree uses (the program's own
# set_start_method / get_context(name) still win); METHODS_VAR (check --matrix's Windows-like
# column) leaves only the methods named, so get_context("fork") fails as it does on Windows.
START_METHOD_VAR = "MPDOCTOR_START_METHOD"
METHODS_VAR = "MPDOCTOR_START_METHODS"
MP_LOG_LEVELS = ("off", "warning", "info", "debug", "subdebug")
# The signal on which every probed process dumps its threads' stacks (faulthandler); 0: off.
STACK_SIGNAL_VAR = "MPDOCTOR_STACK_SIGNAL"
# A real-time signal nothing else uses by convention (glibc keeps the first two for itself);
# SIGUSR2 where the platform has none.
DEFAULT_STACK_SIGNAL = (
    signal.SIGRTMIN + 8 if hasattr(signal, "SIGRTMIN") else signal.SIGUSR2
)  # fmt: skip

PROBE_ROOT = Path(__file__).resolve().parent.parent / "_probe_root"


@dataclass(frozen=True)
class Session:
    """The private directory the probes write into."""

    path: Path

    @property
    def events_dir(self) -> Path:
        return self.path / "events"

    @property
    def stacks_dir(self) -> Path:
        """`<pid>-<ticks>`: what faulthandler wrote in that process on the stack signal."""
        return self.path / "stacks"

    @property
    def alerts_dir(self) -> Path:
        """Empty files `<ppid>-<pid>` the probe creates when a child dies before doing any
        work (main module failing in a spawn child, pool initializer failing)."""
        return self.path / "alerts"

    def cleanup(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def create_session(parent: str | None = None) -> Session:
    """A fresh directory only this user can read (mkdtemp makes it 0700), with `events/`,
    `alerts/` and `stacks/`."""
    path = Path(tempfile.mkdtemp(prefix="mpdoctor-", dir=parent or session_parent()))
    os.chmod(path, 0o700)
    (path / "events").mkdir(mode=0o700)
    (path / "alerts").mkdir(mode=0o700)
    (path / "stacks").mkdir(mode=0o700)
    (path / "pyc").mkdir(mode=0o700)  # the probe's byte code for a Python with none installed
    return Session(path)


# A RAM file system is used only with this much free: /dev/shm is often 64 MiB in containers
# and also holds the program's own semaphores and shared memory, which must never run short.
MIN_FREE_RAM_FS = 256 * 1024 * 1024


def session_parent(environ: Mapping[str, str] | None = None) -> str | None:
    """Where session directories go: a directory the user chose with TMPDIR, else a RAM-backed
    one with room to spare (every probed process creates its event file there: about 20 us on
    tmpfs against 70-270 us on a disk file system), else tempfile's default (None)."""
    environ = os.environ if environ is None else environ
    if environ.get("TMPDIR"):
        return None
    runtime = environ.get("XDG_RUNTIME_DIR")  # per-user tmpfs, 0700 (systemd)
    if runtime and _private_dir(runtime) and _roomy(runtime):
        return runtime
    if (
        os.path.isdir("/dev/shm")
        and os.access("/dev/shm", os.W_OK | os.X_OK)
        and _roomy("/dev/shm")
    ):
        return "/dev/shm"
    return None


def _roomy(path: str) -> bool:
    try:
        st = os.statvfs(path)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize >= MIN_FREE_RAM_FS


def _private_dir(path: str) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return st.st_uid == os.getuid() and st.st_mode & 0o077 == 0 and os.access(path, os.W_OK)


def target_env(
    session: Session,
    mp_log: str = "info",
    base: Mapping[str, str] | None = None,
    start_method: str | None = None,
    only_methods: Sequence[str] | None = None,
    stack_signal: int = DEFAULT_STACK_SIGNAL,
) -> dict[str, str]:
    """The target's environment: the user's, plus the probe on PYTHONPATH and the session vars."""
    if mp_log not in MP_LOG_LEVELS:
        raise ValueError(f"mp_log must be one of {', '.join(MP_LOG_LEVELS)}, not {mp_log!r}")
    env = dict(os.environ if base is None else base)
    user_path = env.get("PYTHONPATH", "")
    # An empty entry would put the cwd on sys.path, so an empty user PYTHONPATH adds nothing.
    env["PYTHONPATH"] = str(PROBE_ROOT) + (os.pathsep + user_path if user_path else "")
    env[SESSION_VAR] = str(session.path)
    env[MP_LOG_VAR] = mp_log
    env[STACK_SIGNAL_VAR] = str(int(stack_signal))
    for name in (START_METHOD_VAR, METHODS_VAR):
        env.pop(name, None)  # never inherited from an outer mpdoctor run
    if start_method:
        env[START_METHOD_VAR] = start_method
    if only_methods:
        env[METHODS_VAR] = ",".join(only_methods)
    return env
