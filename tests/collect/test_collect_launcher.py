"""Argv building, interpreter choice, and `env`-like 126/127 for `-- COMMAND`."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from mpdoctor.collect.launcher import (
    Target,
    build_argv,
    check_interpreter,
    default_interpreter,
    probe_blocker,
    resolve_command,
    signals_to_default,
)
from mpdoctor.errors import CommandNotExecutable, CommandNotFound, UsageError

PY38 = Path("/root/.pyenv/versions/3.8.18/bin/python")


def test_script_argv_is_python_then_script_then_its_args():
    assert build_argv(Target.script("app.py", ["-v", "--report", "x"]), "/py") == (
        "/py",
        ["/py", "app.py", "-v", "--report", "x"],
    )


def test_script_path_with_spaces_and_non_ascii_is_one_argument():
    assert build_argv(Target.script("my dir/é app.py"), "/py")[1] == ["/py", "my dir/é app.py"]


def test_argv0_is_the_name_a_shell_would_pass():
    assert build_argv(Target.script("a.py"), "/usr/bin/python", "python") == (
        "/usr/bin/python",
        ["python", "a.py"],
    )


def test_module_argv_is_python_dash_m():
    assert build_argv(Target.module("pkg.mod", ["a"]), "/py") == (
        "/py",
        ["/py", "-m", "pkg.mod", "a"],
    )


def test_command_is_resolved_on_path_and_kept_as_given():
    path, argv = build_argv(Target.command(["sh", "-c", "exit 0"]), None)
    assert path == shutil.which("sh")
    assert argv == ["sh", "-c", "exit 0"]


def test_missing_command_is_127_worded_like_env():
    with pytest.raises(CommandNotFound) as info:
        resolve_command("no-such-command-mpdoctor")
    assert info.value.exit_code == 127
    assert info.value.message == "'no-such-command-mpdoctor': No such file or directory"


def test_missing_command_path_is_127():
    with pytest.raises(CommandNotFound):
        resolve_command("./no/such/file")


def test_not_executable_command_is_126(tmp_path, monkeypatch):
    script = tmp_path / "tool"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    with pytest.raises(CommandNotExecutable) as info:
        resolve_command(str(script))
    assert info.value.exit_code == 126
    assert info.value.message == f"'{script}': Permission denied"
    # Found on PATH but not executable: execvp's EACCES, so 126 as well.
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CommandNotExecutable):
        resolve_command("tool")


def test_directory_as_command_is_126(tmp_path):
    with pytest.raises(CommandNotExecutable):
        resolve_command(str(tmp_path))


def test_default_interpreter_is_python_on_path_else_python3(tmp_path, monkeypatch):
    only3 = tmp_path / "bin"
    only3.mkdir()
    os.symlink(sys.executable, only3 / "python3")
    monkeypatch.setenv("PATH", str(only3))
    assert default_interpreter().path == str(only3 / "python3")
    assert default_interpreter().argv0 == "python3"
    os.symlink(sys.executable, only3 / "python")
    assert default_interpreter().path == str(only3 / "python")
    assert default_interpreter().argv0 == "python"
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UsageError):
        default_interpreter()


def test_check_interpreter_accepts_a_real_python():
    info = check_interpreter(sys.executable)
    assert info.version == ".".join(map(str, sys.version_info[:3]))


@pytest.mark.skipif(not PY38.exists(), reason="pyenv 3.8 not installed")
def test_check_interpreter_reports_the_version_of_another_python():
    assert check_interpreter(str(PY38)).version == "3.8.18"


def test_check_interpreter_rejects_missing_non_executable_and_non_python(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        check_interpreter(str(tmp_path / "nope"))
    plain = tmp_path / "plain"
    plain.write_text("x")
    with pytest.raises(UsageError, match="not an executable file"):
        check_interpreter(str(plain))
    with pytest.raises(UsageError, match="not an executable file"):
        check_interpreter(str(tmp_path))
    fake = tmp_path / "fake"
    fake.write_text("#!/bin/sh\necho hello\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(UsageError, match="not a Python interpreter"):
        check_interpreter(str(fake))
    with pytest.raises(UsageError, match="not a Python interpreter"):
        check_interpreter(shutil.which("true") or "/bin/true")


@pytest.mark.parametrize(
    ("argv", "blocked"),
    [
        (["python", "app.py"], None),
        (["python3.11", "-u", "app.py", "-I"], None),  # after the script: the program's
        (["python", "-I", "app.py"], "-I"),
        (["python3", "-S", "-c", "pass"], "-S"),
        (["/usr/bin/python3", "-E", "-m", "x"], "-E"),
        (["python", "-bIS", "app.py"], "-I -S"),
        (["python", "-W", "ignore", "-E", "x.py"], "-E"),
        (["python", "-Wignore", "app.py"], None),
        (["python", "-X", "dev", "app.py"], None),
        (["python", "-cimport sys", "-I"], None),  # -c ends the options
        (["python", "-m", "mod", "-E"], None),
        (["sh", "-E", "x"], None),  # not Python
        (["python", "--check-hash-based-pycs", "always", "-S", "x.py"], "-S"),
    ],
)
def test_probe_blocker_detects_isolated_and_no_site_pythons(argv, blocked):
    note = probe_blocker(argv)
    if blocked is None:
        assert note is None
    else:
        assert note is not None and f"with {blocked}," in note


def test_signals_reset_in_the_child_include_what_python_ignores():
    import signal

    assert {signal.SIGPIPE, signal.SIGXFSZ} <= signals_to_default()
    assert signal.SIGINT in signals_to_default([signal.SIGINT])
