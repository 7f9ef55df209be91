"""Everything after the script, the -m module or `--` belongs to the program, as with python."""

import pytest

from mpdoctor.cli.argv import COMMAND_FLAG, split_run_argv

WITH_VALUES = ["--report", "--python", "--mp-log", "--color", "--timeout", "-m", "--module"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["app.py"], ["--", "app.py"]),
        (["app.py", "--report", "x"], ["--", "app.py", "--report", "x"]),
        (["--report", "r.json", "app.py", "-v"], ["--report", "r.json", "--", "app.py", "-v"]),
        (["--mp-log=off", "app.py"], ["--mp-log=off", "--", "app.py"]),
        (["-m", "pkg.mod", "--report", "x"], ["-m", "pkg.mod", "--", "--report", "x"]),
        (["-mjson.tool", "f"], ["-m", "json.tool", "--", "f"]),
        (["--module=pkg", "a"], ["-m", "pkg", "--", "a"]),
        (["--", "python", "-c", "pass"], [COMMAND_FLAG, "--", "python", "-c", "pass"]),
        (["--quiet", "--", "make", "--", "x"], ["--quiet", COMMAND_FLAG, "--", "make", "--", "x"]),
        (["-"], ["--", "-"]),
        (["--quiet"], ["--quiet"]),
        (["-m"], ["-m"]),
    ],
)
def test_program_arguments_are_never_read_as_mpdoctor_options(argv, expected):
    assert split_run_argv(argv, WITH_VALUES) == expected
