"""MPDOCTOR_MP_LOG: `multiprocessing.util.log_to_stderr(level)` once per process tree.

Called only in a tree's root, when it imports multiprocessing.util: fork children inherit the
handler, spawn and forkserver children get log_to_stderr from spawn.prepare's preparation data
(a second call would print every line twice), and the fork server and resource tracker never
had it.

A program that calls log_to_stderr itself must not get two handlers. log_to_stderr starts with
`get_logger()`; multiprocessing.util.get_logger is replaced by a function that, when its caller
is log_to_stderr, first removes our handler. (Replacing log_to_stderr itself would put a probe
frame into the traceback of, say, a bad level's ValueError; get_logger raises nothing.)
"""

import os
import sys

_LEVELS = {"warning": 30, "info": 20, "debug": 10, "subdebug": 5}
_handler = None  # the handler our log_to_stderr call added


def setup(util) -> None:
    """In a tree's root (the caller checked), when multiprocessing.util has just been imported."""
    global _handler
    level = _LEVELS.get(os.environ.get("MPDOCTOR_MP_LOG", "off").strip().lower())
    if level is None or util._log_to_stderr:
        return
    original = util.get_logger
    log_to_stderr_code = util.log_to_stderr.__code__

    def get_logger():
        if _handler is not None and sys._getframe(1).f_code is log_to_stderr_code:
            _remove(original())
        return original()

    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(get_logger, attr, getattr(original, attr, None))
    util.get_logger = get_logger
    logger = original()
    before = list(logger.handlers)
    util.log_to_stderr(level)
    added = [h for h in logger.handlers if h not in before]
    _handler = added[-1] if added else None


def _remove(logger) -> None:
    global _handler
    handler, _handler = _handler, None
    logger.removeHandler(handler)
