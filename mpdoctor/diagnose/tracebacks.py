"""A child's unhandled exception, as findings show it: the user's frame, a short text, and the
traceback Python printed (clipped when huge)."""

from __future__ import annotations

import re

from mpdoctor.diagnose.evidence import ExceptionInfo
from mpdoctor.model import Frame

_LIBRARY = re.compile(
    r"(/|^)(site|dist)-packages/"  # installed packages
    r"|/lib(64)?/python\d+(\.\d+)?t?/"  # the standard library (3.13t included)
    r"|(/|^)_mpdoctor_probe/"
    r"|^<frozen "
)
_MAX_LINES = 40


def is_library(path: str) -> bool:
    return bool(_LIBRARY.search(path.replace("\\", "/")))


def user_frame(frames: list[Frame]) -> Frame | None:
    """The innermost frame outside the standard library, installed packages and the probe
    (`frames` outermost first); the innermost frame when every frame is library code."""
    for index in range(len(frames) - 1, -1, -1):
        if not is_library_at(frames, index):
            return frames[index]
    return frames[-1] if frames else None


def is_library_at(frames: list[Frame], index: int) -> bool:
    """Frame `index` of `frames` (outermost first) is library code: by its file, or a manager
    proxy's generated method."""
    callee = frames[index + 1] if index + 1 < len(frames) else None
    return is_library(frames[index].file) or _generated_proxy_method(frames[index], callee)


def _generated_proxy_method(frame: Frame, callee: Frame | None) -> bool:
    """A manager proxy's method: multiprocessing generates it with exec() ("<string>"), and it
    only calls `BaseProxy._callmethod`. The program's line is its caller."""
    return (
        frame.file.startswith("<")
        and callee is not None
        and callee.function == "_callmethod"
        and callee.file.replace("\\", "/").endswith("multiprocessing/managers.py")
    )


def short_path(path: str) -> str:
    """A library file by its last two parts ("multiprocessing/process.py"), the program's as is."""
    if is_library(path):
        return "/".join(path.replace("\\", "/").split("/")[-2:])
    return path


def short_type(type_name: str) -> str:
    """ "multiprocessing.pool.MaybeEncodingError" -> "MaybeEncodingError"."""
    return type_name.rsplit(".", 1)[-1]


def exception_text(exc: ExceptionInfo) -> str:
    """ "ZeroDivisionError: division by zero", as the last line of a traceback reads."""
    return f"{short_type(exc.type)}: {exc.message}" if exc.message else short_type(exc.type)


def clipped_traceback(text: str) -> str:
    """The traceback text; a huge one keeps its first line and its innermost lines."""
    lines = text.rstrip("\n").splitlines()
    if len(lines) > _MAX_LINES:
        dropped = len(lines) - _MAX_LINES + 1
        lines = [lines[0], f"  ... ({dropped} lines omitted)", *lines[-(_MAX_LINES - 2) :]]
    return "\n".join(lines)
