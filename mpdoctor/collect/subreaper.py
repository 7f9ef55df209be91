"""Make the monitor the child subreaper of its tree (Linux), so orphans stay visible to it.

Without it an orphaned descendant (its parent died, or it daemonized) is reparented to init and
is lost; with it the orphan becomes the monitor's child, which the monitor samples and reaps.
The attribute is not inherited across fork, so the target and its tree are unaffected.
Cost: importing ctypes is ~2-4 ms, the prctl call microseconds; done once, before the target
starts, so no orphan can slip past.
"""

from __future__ import annotations

import sys

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37


def _libc():  # lazy: ctypes is only needed here, and only on Linux
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def enable() -> bool:
    """Become child subreaper; False where unsupported or refused (never raises)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return _libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def is_enabled() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        flag = ctypes.c_int(0)
        if _libc().prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0) != 0:
            return False
        return flag.value != 0
    except (OSError, AttributeError):
        return False
