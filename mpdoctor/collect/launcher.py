"""What to run and how to start it: argv building, interpreter choice, posix_spawn.

The target must behave as `python script.py` would: same cwd, inherited stdin/stdout/stderr
(never piped), the monitor's original signal mask and dispositions, and mpdoctor's process group
(so a terminal's Ctrl-C reaches it once, directly). posix_spawn starts it without forking the
monitor (cheap, and safe once the monitor has threads).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from mpdoctor.errors import CommandNotExecutable, CommandNotFound, UsageError

TargetKind = Literal["script", "module", "command"]

_PYTHON_NAME = re.compile(r"^(python|pypy)[0-9.]*$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+\S*$")


@dataclass(frozen=True)
class Target:
    """What the user asked to run.

    `argv` is `(script, *args)`, `(module, *args)` or `(command, *args)` for each kind.
    """

    kind: TargetKind
    argv: tuple[str, ...]

    @classmethod
    def script(cls, path: str, args: Sequence[str] = ()) -> Target:
        return cls("script", (path, *args))

    @classmethod
    def module(cls, name: str, args: Sequence[str] = ()) -> Target:
        return cls("module", (name, *args))

    @classmethod
    def command(cls, argv: Sequence[str]) -> Target:
        if not argv:
            raise UsageError("a command is needed after `--`")
        return cls("command", tuple(argv))


@dataclass(frozen=True)
class Interpreter:
    """The interpreter that runs SCRIPT or -m: its path, argv[0], version."""

    path: str  # as resolved on PATH or given with --python
    version: str | None  # "3.11.7"; None when not asked (the probe reports it cheaper)
    # argv[0] as a shell would pass it ("python", or the --python text): Python prints it in
    # its own errors ("python: can't open file ...") and derives sys.executable from it.
    argv0: str | None = None


def default_interpreter() -> Interpreter:
    """`python` on PATH, else `python3`: the user's environment, as a plain `python` would be."""
    for name in ("python", "python3"):
        found = shutil.which(name)
        if found:
            return Interpreter(found, None, name)
    raise UsageError("no `python` or `python3` on PATH", hint="name one with --python PATH")


def ask_version(python: str) -> tuple[int, str]:
    """(exit status, printed version) of `python` asked its version: a few ms, so only when
    needed. OSError when it cannot be run or does not answer in time."""
    import subprocess  # keep the default path's start-up light

    try:
        out = subprocess.run(
            [python, "-E", "-S", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=20,
            check=False,
        )
    except subprocess.SubprocessError as exc:
        raise OSError(str(exc)) from None
    return out.returncode, out.stdout.decode(errors="replace").strip()


def check_interpreter(path: str) -> Interpreter:
    """Validate `--python PATH`: it exists, is executable, and really is a Python."""
    resolved = path if os.sep in path else shutil.which(path)
    if resolved is None or not os.path.exists(resolved):
        raise UsageError(f"--python {path}: no such file")
    if os.path.isdir(resolved) or not os.access(resolved, os.X_OK):
        raise UsageError(f"--python {path}: not an executable file")
    try:
        returncode, version = ask_version(resolved)
    except OSError as exc:
        raise UsageError(f"--python {path}: cannot run it ({exc})") from None
    if returncode != 0 or not _VERSION.match(version):
        raise UsageError(f"--python {path}: not a Python interpreter")
    return Interpreter(resolved, version, path)


def resolve_command(name: str) -> str:
    """The program `name` as execvp would find it; errors worded as `env` words them."""
    if os.sep in name:
        if not os.path.exists(name):
            raise CommandNotFound(f"'{name}': No such file or directory")
        if os.path.isdir(name) or not os.access(name, os.X_OK):
            raise CommandNotExecutable(f"'{name}': Permission denied")
        return name
    found = shutil.which(name)
    if found:
        return found
    # execvp reports EACCES when it found only files it may not execute.
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate):
            raise CommandNotExecutable(f"'{name}': Permission denied")
    raise CommandNotFound(f"'{name}': No such file or directory")


def build_argv(
    target: Target, interpreter: str | None, argv0: str | None = None
) -> tuple[str, list[str]]:
    """(executable path, argv) to spawn for `target`; argv[0] is `argv0` if given."""
    if target.kind == "command":
        return resolve_command(target.argv[0]), list(target.argv)
    if interpreter is None:
        raise ValueError("a script or module target needs an interpreter")
    first = argv0 or interpreter
    if target.kind == "script":
        return interpreter, [first, *target.argv]
    return interpreter, [first, "-m", *target.argv]


def probe_blocker(argv: Sequence[str]) -> str | None:
    """Why the probe cannot load in `python ...` argv (-I, -S or -E), or None.

    -E ignores PYTHONPATH, -S skips `site` (so no sitecustomize), -I implies -E.
    """
    if not argv or not _PYTHON_NAME.match(os.path.basename(argv[0])):
        return None
    flags: set[str] = set()
    args = list(argv[1:])
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg in ("-", "--") or not arg.startswith("-"):
            break  # the script: options end here
        if arg.startswith("--"):
            i += arg == "--check-hash-based-pycs"  # the only long option with a value
            continue
        letters = arg[1:]
        for j, ch in enumerate(letters):
            if ch in "cm":  # `-c CMD` / `-m MOD`: the rest belongs to the program
                i = len(args)
                break
            if ch in "WX":  # takes a value, attached or next
                i += j == len(letters) - 1
                break
            flags.add(ch)
    blocked = sorted(f"-{f}" for f in flags & {"I", "S", "E"})
    if not blocked:
        return None
    return (
        f"the target runs Python with {' '.join(blocked)}, which keeps the probe out: "
        "monitoring with psutil only (no roles, exceptions, pools or warnings from inside)"
    )


def signals_to_default(changed: Iterable[int] = ()) -> set[int]:
    """Signals to reset in the child, as subprocess's restore_signals does, plus `changed`.

    Python ignores SIGPIPE and SIGXFSZ at startup; an ignored signal stays ignored across exec.
    A signal that was ignored before the monitor started stays ignored (as with a plain run).
    """
    reset = {int(s) for s in changed}
    for name in ("SIGPIPE", "SIGXFSZ"):
        if hasattr(signal, name):
            reset.add(int(getattr(signal, name)))
    return reset


def spawn(
    path: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    sigmask: Iterable[int] | None = None,
    sigdef: Iterable[int] = (),
    output: str | None = None,
) -> int:
    """Start the target with posix_spawn: inherited fds and cwd, mpdoctor's process group.
    With `output`, stdout and stderr go to that file and stdin is /dev/null (check --matrix
    runs a program several times in a row)."""
    kwargs: dict[str, object] = {"setsigdef": tuple(sigdef)}
    if sigmask is not None:
        kwargs["setsigmask"] = tuple(sigmask)
    if output is not None:
        kwargs["file_actions"] = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ]
    try:
        return os.posix_spawn(path, list(argv), dict(env), **kwargs)  # type: ignore[arg-type]
    except OSError as exc:
        name = argv[0] if argv else path
        if exc.errno == errno.ENOENT:
            raise CommandNotFound(f"'{name}': No such file or directory") from None
        if exc.errno in (errno.EACCES, errno.ENOEXEC, errno.EPERM, errno.EISDIR):
            raise CommandNotExecutable(f"'{name}': {os.strerror(exc.errno)}") from None
        raise
