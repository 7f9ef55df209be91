"""The CLI's contract: bad input is one `mpdoctor:` line and a documented code, never a
traceback; output reads well on a terminal and in a CI log; saved reports render again."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from cli_support import ROOT, run_mpdoctor

from mpdoctor import __version__

SAMPLE = ROOT / "samples" / "process_crashed_exit_code.py"
ANSI = b"\x1b["


def _one_mpdoctor_line(stderr: bytes) -> str:
    text = stderr.decode()
    assert "Traceback" not in text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith("mpdoctor: "), text
    return lines[0]


def test_version_and_python_dash_m():
    result = run_mpdoctor(["--version"])
    assert (result.returncode, result.stdout) == (0, f"mpdoctor {__version__}\n".encode())


def test_no_arguments_prints_the_help_and_no_empty_error_line():
    result = run_mpdoctor([])
    assert result.returncode == 2
    assert result.stderr == b""
    text = result.stdout.decode()
    for command in ("run", "report", "check", "inspect"):
        assert f" {command} " in text


@pytest.mark.parametrize("command", ["run", "check"])
def test_help_keeps_the_interpreter_default(command):
    """rich reads "[default: ...]" in a help string as markup and drops it: say it plainly."""
    text = " ".join(run_mpdoctor([command, "--help"]).stdout.decode().split())
    assert "(default: python, else python3, on PATH)" in text.replace("│ ", "").replace(" │", "")


def test_help_documents_the_exit_codes():
    result = run_mpdoctor(["run", "--help"])
    assert result.returncode == 0
    text = " ".join(result.stdout.decode().split())
    for code in ("124", "125", "126/127", "2"):
        assert code in text


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "--bogus", "x.py"], "--bogus"),
        (["run", "--mp-log", "loud", "x.py"], "--mp-log"),
        (["run", "--color", "sometimes", "x.py"], "--color"),
        (["run", "--timeout", "soon", "x.py"], "--timeout"),
        (["run"], "missing program"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, needle):
    result = run_mpdoctor(args)
    assert result.returncode == 2
    assert needle in _one_mpdoctor_line(result.stderr)


def test_python_that_is_not_an_interpreter(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho hello\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    for bad in (str(fake), str(tmp_path / "missing"), str(tmp_path)):
        result = run_mpdoctor(["run", "--python", bad, str(SAMPLE)])
        assert result.returncode == 2
        assert "--python" in _one_mpdoctor_line(result.stderr)


def test_unwritable_report_is_refused_before_the_program_runs(tmp_path):
    marker = tmp_path / "ran"
    script = tmp_path / "touch.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        cases = [tmp_path / "no-dir" / "r.json", tmp_path, script / "r.json"]
        if os.geteuid() != 0:  # root may write anywhere
            cases.append(locked / "r.json")
        if os.path.isdir("/proc/self"):  # access(2) says writable to root; creating fails
            cases.append(Path("/proc") / "mpdoctor-report.json")
        for report in cases:
            result = run_mpdoctor(["run", "--report", str(report), str(script)])
            assert result.returncode == 2
            line = _one_mpdoctor_line(result.stderr)
            assert "--report" in line
            if report.parent == script:
                assert f"{script} is not a directory" in line
            assert not marker.exists()
    finally:
        locked.chmod(0o700)


def test_command_not_found_127_and_not_executable_126(tmp_path):
    result = run_mpdoctor(["run", "--", "no-such-command-mpdoctor"])
    assert result.returncode == 127
    assert "no-such-command-mpdoctor" in _one_mpdoctor_line(result.stderr)
    plain_file = tmp_path / "notexec.sh"
    plain_file.write_text("echo hi\n")
    result = run_mpdoctor(["run", "--", str(plain_file)])
    assert result.returncode == 126
    assert "notexec.sh" in _one_mpdoctor_line(result.stderr)


def test_command_mode_probes_python_processes(tmp_path):
    report = tmp_path / "r.json"
    result = run_mpdoctor(
        [
            "run",
            "--mp-log",
            "off",
            "--report",
            str(report),
            "--",
            "sh",
            "-c",
            f"python {SAMPLE}; exit $?",
        ]
    )
    assert result.returncode == 0  # the sample's own status, through the shell
    data = json.loads(report.read_text())
    assert [f["id"] for f in data["findings"]] == ["process-crashed"]
    shell = data["processes"][0]  # the shell, shown with what /proc gives
    assert (shell["role"], shell["name"], shell["probed"]) == ("main", "sh", False)
    assert any(p["probed"] and p["role"] == "fork-child" for p in data["processes"])


def test_secrets_in_headers_and_pass_options_are_redacted_on_screen_and_in_the_report(tmp_path):
    script = tmp_path / "sec.py"
    script.write_text("import sys\n")
    report = tmp_path / "r.json"
    secrets = ["tok111", "p444", "p445", "xk121", "ck131"]
    args = [
        *("-H", "Authorization: Bearer tok111", "--pass=p444", "--pass", "p445"),
        *("X-Api-Key: xk121", "--header=Cookie: sid=ck131"),
    ]
    result = run_mpdoctor(["run", "--mp-log", "off", "--report", str(report), str(script), *args])
    assert result.returncode == 0, result.stderr
    console = result.stdout.decode() + result.stderr.decode()
    saved = report.read_text()
    assert "--pass=***" in console
    assert [s for s in secrets if s in console or s in saved] == []
    assert json.loads(saved)["command"][-7:] == [
        *("-H", "Authorization: Bearer ***", "--pass=***", "--pass", "***"),
        *("X-Api-Key: ***", "--header=Cookie: ***"),
    ]


def test_ci_log_output_has_no_ansi_and_is_120_wide(tmp_path):
    result = run_mpdoctor(["run", "--mp-log", "off", str(SAMPLE)])
    assert ANSI not in result.stderr
    lines = result.stderr.decode().splitlines()
    rules = [line for line in lines if "mpdoctor" in line and line.startswith("─")]
    assert len(rules) == 2 and all(len(line) == 120 for line in rules)
    assert max(len(line) for line in lines) <= 120


def test_columns_and_color_always_and_no_color(tmp_path):
    narrow = run_mpdoctor(["run", "--mp-log", "off", str(SAMPLE)], env={"COLUMNS": "80"})
    lines = narrow.stderr.decode().splitlines()
    assert max(len(line) for line in lines if "https://" not in line) <= 80  # URLs stay whole
    forced = run_mpdoctor(["run", "--mp-log", "off", "--color", "always", str(SAMPLE)])
    assert ANSI in forced.stderr
    env_forced = run_mpdoctor(["run", "--mp-log", "off", str(SAMPLE)], env={"FORCE_COLOR": "1"})
    assert ANSI in env_forced.stderr
    no_color = run_mpdoctor(
        ["run", "--mp-log", "off", str(SAMPLE)], env={"NO_COLOR": "1", "FORCE_COLOR": "1"}
    )
    assert ANSI not in no_color.stderr


def test_a_traceback_in_evidence_is_never_wrapped_mid_frame():
    crashed = ROOT / "samples" / "process_crashed_exception.py"
    narrow = run_mpdoctor(["run", "--mp-log", "off", str(crashed)], env={"COLUMNS": "60"})
    lines = narrow.stderr.decode().splitlines()
    frame = '      File "samples/process_crashed_exception.py", line 15, in load_settings'
    assert frame in lines, narrow.stderr.decode()
    assert "    KeyError: 'timeout'" in lines
    # The message still wraps to the width (locations and tracebacks stay whole).
    message = [line for line in lines if line.startswith(("ERROR", "  Process-1 (pid"))]
    assert len(message) == 2 and all(len(line) <= 60 for line in message)


def test_locations_are_relative_to_where_mpdoctor_runs_and_absolute_elsewhere(tmp_path):
    report = tmp_path / "report.json"
    run = run_mpdoctor(["run", "--mp-log", "off", "--report", str(report), str(SAMPLE)])
    assert "  at samples/process_crashed_exit_code.py:23 (started," in run.stderr.decode()
    assert json.loads(report.read_text())["findings"][0]["locations"][0]["file"] == str(SAMPLE)
    elsewhere = run_mpdoctor(["report", str(report)], cwd=tmp_path)
    assert f"  at {SAMPLE}:23 (started," in elsewhere.stderr.decode()


def test_quiet_prints_nothing_without_findings_and_everything_with_them():
    clean = run_mpdoctor(["run", "-q", "--mp-log", "off", str(ROOT / "samples" / "pool_map.py")])
    assert clean.stderr == b""
    faulty = run_mpdoctor(["run", "-q", "--mp-log", "off", str(SAMPLE)])
    assert b"process-crashed" in faulty.stderr


def test_saved_report_renders_as_run_rendered_it(tmp_path):
    report = tmp_path / "r.json"
    live = run_mpdoctor(["run", "--mp-log", "off", "--report", str(report), str(SAMPLE)])
    again = run_mpdoctor(["report", str(report)])
    assert again.returncode == 0
    program_err = live.stderr[: live.stderr.index("─".encode())]
    assert live.stderr[len(program_err) :] == again.stderr
    as_json = run_mpdoctor(["report", "--format", "json", str(report)])
    assert json.loads(as_json.stdout) == json.loads(report.read_text())


def test_report_of_a_bad_file_is_one_line(tmp_path):
    garbage = tmp_path / "bad.json"
    garbage.write_text("{not json")
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"schema_version": 99}))
    for path in (garbage, wrong, tmp_path / "missing.json"):
        result = run_mpdoctor(["report", str(path)])
        assert result.returncode == 2
        _one_mpdoctor_line(result.stderr)


def test_mp_log_info_adds_only_multiprocessing_log_lines(tmp_path):
    sample = ROOT / "samples" / "pool_map.py"
    plain = run_mpdoctor(["run", "-q", "--mp-log", "off", str(sample)])
    logged = run_mpdoctor(["run", "-q", "--mp-log", "info", str(sample)])
    assert logged.stdout == plain.stdout
    extra = logged.stderr.decode().splitlines()
    assert extra and all(line.startswith("[INFO/") for line in extra), extra
    assert len(extra) == len(set(extra)) or "process shutting down" in logged.stderr.decode()


@pytest.mark.parametrize("version", ["2.7.18", "3.6.15", "3.7.16"])
def test_old_interpreters_run_untouched(tmp_path, version):
    python = f"/root/.pyenv/versions/{version}/bin/python"
    if not os.path.exists(python):
        pytest.skip(f"no Python {version} here")
    script = tmp_path / "old.py"
    script.write_text("import sys\nsys.stdout.write('ok\\n')\nsys.stderr.write('err\\n')\n")
    result = run_mpdoctor(["run", "-q", "--mp-log", "info", "--python", python, str(script)])
    assert (result.returncode, result.stdout, result.stderr) == (0, b"ok\n", b"err\n")


def test_a_report_holds_an_argv_that_is_not_utf8(tmp_path):
    """An undecodable byte in an argument (Python holds it as a lone surrogate) is written as
    its JSON escape: the report is valid UTF-8 and loads back with the same argument."""
    script = tmp_path / "args.py"
    script.write_text("import sys; print(len(sys.argv))")
    report = tmp_path / "r.json"
    report.write_text("an earlier report\n")
    arg = os.fsdecode(b"caf\xe9")
    result = run_mpdoctor(["run", "--report", str(report), str(script), arg])
    assert (result.returncode, result.stdout) == (0, b"2\n"), result.stderr
    assert b"internal error" not in result.stderr
    data = json.loads(report.read_bytes().decode("utf-8"))
    assert data["command"][-1] == arg
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no leftovers
    rendered = run_mpdoctor(["report", str(report)])
    assert rendered.returncode == 0, rendered.stderr


def test_the_programs_pythonpath_never_replaces_mpdoctors_own_libraries(tmp_path):
    """A PYTHONPATH holding other copies of typer and rich (a vendored tree, another
    environment) is the program's: it gets them, mpdoctor keeps its own."""
    shadow = tmp_path / "shadow"
    for name in ("typer", "rich", "psutil"):
        (shadow / name).mkdir(parents=True)
        (shadow / name / "__init__.py").write_text("SHADOW = True\n")
    script = tmp_path / "app.py"
    script.write_text("import typer; print(typer.SHADOW)")
    env = {**os.environ, "PYTHONPATH": str(shadow)}
    result = run_mpdoctor(["run", "--mp-log", "off", str(script)], env=env)
    assert (result.returncode, result.stdout) == (0, b"True\n"), result.stderr
    assert b"Traceback" not in result.stderr and b"no findings" in result.stderr


def test_long_runs_of_alike_children_fold_around_the_one_that_failed(tmp_path):
    report = tmp_path / "r.json"
    program = ROOT / "tests" / "e2e" / "programs" / "many_children_one_fails.py"
    result = run_mpdoctor(["run", "--mp-log", "off", "--report", str(report), str(program)])
    assert result.returncode == 0
    tree = result.stderr.decode().split("\nprocesses\n")[1].split("\n\n")[0].splitlines()
    children = json.loads(report.read_text())["processes"][1:]
    assert [p["name"] for p in children] == [f"ForkProcess-{i}" for i in range(1, 21)]
    pids = [p["pid"] for p in children]
    rows = [line.split("── ", 1)[1] for line in tree[1:]]
    # 9 alike before the failed one: the first two, 6 counted, the last; the same after it
    assert [row.split(":")[0] for row in rows] == [
        f"fork-child {pids[0]} ForkProcess-1",
        f"fork-child {pids[1]} ForkProcess-2",
        f"... 6 more fork-child processes, each exited 0 (ForkProcess-3 ... ForkProcess-8, pids "
        f"{pids[2]} to {pids[7]})",
        f"fork-child {pids[8]} ForkProcess-9",
        f"fork-child {pids[9]} ForkProcess-10",
        f"fork-child {pids[10]} ForkProcess-11",
        f"fork-child {pids[11]} ForkProcess-12",
        f"... 7 more fork-child processes, each exited 0 (ForkProcess-13 ... ForkProcess-19, pids "
        f"{pids[12]} to {pids[18]})",
        f"fork-child {pids[19]} ForkProcess-20",
    ]
    assert "exited 3" in rows[4] and rows[4].endswith("[process-crashed]")
    assert (
        run_mpdoctor(["report", str(report)]).stderr
        == result.stderr[result.stderr.index("─".encode()) :]
    )
