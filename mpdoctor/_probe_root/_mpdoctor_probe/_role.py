"""Which multiprocessing helper this process is, from its command line.

multiprocessing starts its helpers as `python -c CODE`: a spawn child runs
`spawn_main(...)` with `--multiprocessing-fork`, the fork server `forkserver import main`, the
resource tracker `resource_tracker import main`. sys.argv holds only `-c` and the arguments, so
the code comes from sys.orig_argv (3.10+) or /proc/self/cmdline.
"""

import os
import sys

_role = False  # not computed yet (None is a valid answer)


def _command_code() -> str:
    argv = getattr(sys, "orig_argv", None)
    if argv is None:
        try:
            fd = os.open("/proc/self/cmdline", os.O_RDONLY)
        except OSError:
            return ""
        try:
            chunks = []
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(fd)
        argv = b"".join(chunks).decode("utf-8", "surrogateescape").split("\0")
    try:
        return argv[argv.index("-c") + 1]
    except (ValueError, IndexError):
        return ""


def role() -> "str | None":
    """spawn-child | forkserver | resource-tracker, or None for any other process."""
    global _role
    if _role is False:
        argv = getattr(sys, "argv", None) or [""]
        if argv[0] != "-c":
            _role = None
        elif argv[1:2] == ["--multiprocessing-fork"]:
            _role = "spawn-child"
        else:
            code = _command_code()
            if "multiprocessing.forkserver import main" in code:
                _role = "forkserver"
            elif "multiprocessing.resource_tracker import main" in code:
                _role = "resource-tracker"
            else:
                _role = None
    return _role
