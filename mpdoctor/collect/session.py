"""The private session directory shared with the probe, and the target's environment."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SESSION_VAR = "MPDOCTOR_SESSION"
MP_LOG_VAR = "MPDOCTOR_MP_LOG"
MP_LOG_LEVELS = ("off", "warning", "info", "debug", "subdebug")

PROBE_ROOT = Path(__file__).resolve().parent.parent / "_probe_root"


@dataclass(frozen=True)
class Session:
    path: Path

    @property
    def events_dir(self) -> Path:
        return self.path / "events"

    def cleanup(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def create_session() -> Session:
    """A fresh directory only this user can read (mkdtemp makes it 0700), with `events/`."""
    path = Path(tempfile.mkdtemp(prefix="mpdoctor-"))
    os.chmod(path, 0o700)
    (path / "events").mkdir(mode=0o700)
    return Session(path)


def target_env(
    session: Session, mp_log: str = "info", base: Mapping[str, str] | None = None
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
    return env
