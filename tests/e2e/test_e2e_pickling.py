"""Pickling and start-up failures through the real CLI: what each finding names, on 3.9, 3.11
and 3.13 (whose error messages differ), and that the program's own output is unchanged."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import ROOT, run_mpdoctor

pytestmark = pytest.mark.timeout(120)

SAMPLES = ROOT / "samples"
PROGRAMS = Path(__file__).resolve().parent / "programs"
PYTHONS = {
    "3.9": Path("/root/.pyenv/versions/3.9.18/bin/python"),
    "3.11": Path(sys.executable),
    "3.13": Path("/root/.pyenv/versions/3.13.0/bin/python"),
}
PYTHON_38 = Path("/root/.pyenv/versions/3.8.18/bin/python")


def _python(version: str) -> Path:
    python = PYTHONS[version]
    if not python.exists():
        pytest.skip(f"no Python {version} here")
    return python


def _report(tmp_path: Path, script: Path, python: Path | None = None, *extra: str) -> dict:
    report = tmp_path / "report.json"
    args = ["run", "--mp-log", "off", "--report", str(report)]
    if python is not None:
        args += ["--python", str(python)]
    result = run_mpdoctor([*args, *extra, str(script)], timeout=60, cwd=tmp_path)
    assert report.exists(), result.stderr.decode(errors="replace")
    data = json.loads(report.read_text())
    data["_stderr"] = result.stderr.decode(errors="replace")
    data["_returncode"] = result.returncode
    return data


def _only(data: dict, finding_id: str) -> dict:
    found = [f for f in data["findings"] if f["id"] == finding_id]
    assert [f["id"] for f in data["findings"]] == [finding_id], data["_stderr"]
    return found[0]


def _cited(finding: dict) -> set[tuple[str, str, int]]:
    return {(loc["role"], Path(loc["file"]).name, loc["line"]) for loc in finding["locations"]}


@pytest.mark.parametrize("version", sorted(PYTHONS))
def test_lambda_is_named_with_where_it_is_defined_and_sent(tmp_path, version):
    data = _report(tmp_path, SAMPLES / "unpicklable_lambda.py", _python(version))
    finding = _only(data, "unpicklable-callable")
    assert {("defined", "unpicklable_lambda.py", 17), ("sent", "unpicklable_lambda.py", 19)} <= (
        _cited(finding)
    )
    assert "Pool.map()" in finding["message"] and "lambda" in finding["message"]
    assert finding["evidence"][0].startswith("function (main.<locals>.<lambda>")


@pytest.mark.parametrize("version", sorted(PYTHONS))
def test_a_lambda_given_to_executor_map_names_map(tmp_path, version):
    data = _report(
        tmp_path, PROGRAMS / "executor_map_lambda.py", _python(version), "--timeout", "30"
    )
    if data["outcome"]["status"] == "timeout":
        pytest.skip("CPython's executor hung at shutdown (a race of its own on 3.8 and 3.9)")
    finding = _only(data, "unpicklable-callable")
    assert "Executor.map() at" in finding["message"], finding["message"]
    assert finding["title"] == "ProcessPoolExecutor cannot send a lambda"
    assert ("awaited", "executor_map_lambda.py", 9) in _cited(finding)


@pytest.mark.parametrize("version", sorted(PYTHONS))
def test_every_unpicklable_member_is_listed_with_its_path(tmp_path, version):
    data = _report(tmp_path, SAMPLES / "unpicklable_argument.py", _python(version))
    finding = _only(data, "unpicklable-object")
    paths = [line.split(" (", 1)[0] for line in finding["evidence"]]
    assert paths == ["iterable[0] -> Account.guard", "iterable[0] -> Account.audit"]
    assert "_thread.lock" in finding["evidence"][0]
    assert "TextIOWrapper" in finding["evidence"][1]
    assert ("sent", "unpicklable_argument.py", 30) in _cited(finding)


def test_nested_members_shared_objects_and_keyword_arguments(tmp_path):
    data = _report(tmp_path, PROGRAMS / "pool_many_members.py")
    finding = _only(data, "unpicklable-object")
    paths = [line.split(" (", 1)[0] for line in finding["evidence"]]
    assert paths == [
        "args[0] -> Node.lock",
        "args[0] -> Node.children[0] -> Node.lock",
        "args[0] -> Node.children[0] -> Node.meta['gen']",
        "args[0] -> Node.children[1] -> Node.lock",
        "args[0] -> Node.children[1] -> Node.meta['gen']",
        "args[0] -> Node.meta['gen']",
        "kwds['extra'][0]",  # the same lock twice: named once
    ]


@pytest.mark.parametrize("version", sorted(PYTHONS))
def test_unpicklable_result_names_the_function_and_member(tmp_path, version):
    data = _report(tmp_path, SAMPLES / "unpicklable_result.py", _python(version))
    finding = _only(data, "unpicklable-result")
    assert finding["title"] == "squares() returns a value that cannot be pickled"
    assert all("(generator)" in line for line in finding["evidence"][:-1])
    assert ("awaited", "unpicklable_result.py", 19) in _cited(finding)


@pytest.mark.parametrize("version", sorted(PYTHONS))
def test_unrebuildable_exception_in_a_pool_names_the_class_and_init(tmp_path, version):
    data = _report(tmp_path, SAMPLES / "unpicklable_exception.py", _python(version))
    finding = _only(data, "unpicklable-exception")
    assert "QuotaError.__init__(self, user, limit)" in finding["message"]
    assert "wait forever" in finding["message"]
    assert ("defined", "unpicklable_exception.py", 17) in _cited(finding)
    # the outcome says whose death a signal was: the program's (mirrored) or mpdoctor's own
    assert data["_returncode"] == 1, (data["outcome"], data["_stderr"][-3000:])


def test_unrebuildable_exception_in_an_executor_is_not_a_dead_worker(tmp_path):
    data = _report(tmp_path, PROGRAMS / "executor_bad_exception.py")
    finding = _only(data, "unpicklable-exception")  # and no worker-died: nobody died
    assert "BrokenProcessPool though no worker died" in finding["message"]
    assert "LimitError.__init__(self, name, limit)" in finding["message"]


def test_an_executor_failure_the_program_handles_is_still_named(tmp_path):
    data = _report(tmp_path, PROGRAMS / "executor_handles_lock.py")
    assert data["_returncode"] == 0
    finding = _only(data, "unpicklable-object")
    assert finding["evidence"][0].startswith("args[0] -> Job.lock (_thread.lock)")


@pytest.mark.parametrize("version", ["3.8", "3.11"])
def test_an_executor_that_hangs_on_the_failure_still_names_it(tmp_path, version):
    # CPython 3.8's executor hangs at shutdown after this error: the finding cannot wait for
    # an uncaught exception at exit.
    python = PYTHON_38 if version == "3.8" else _python("3.11")
    if not python.exists():
        pytest.skip(f"no Python {version} here")
    data = _report(tmp_path, PROGRAMS / "executor_map_lambda.py", python, "--timeout", "8")
    ids = {f["id"] for f in data["findings"]}
    assert "unpicklable-callable" in ids, data["_stderr"]
    assert [f["id"] for f in data["findings"]].count("unpicklable-callable") == 1


def test_executor_argument_failure_names_the_keyword(tmp_path):
    data = _report(tmp_path, PROGRAMS / "executor_sends_lock.py")
    finding = _only(data, "unpicklable-object")
    assert finding["evidence"][0].startswith("kwargs['guard'] (_thread.lock)")
    assert finding["message"].startswith("ProcessPoolExecutor (raised at Future.result() at")


def test_spawn_process_with_a_nested_target(tmp_path):
    data = _report(tmp_path, PROGRAMS / "spawn_nested_target.py")
    finding = _only(data, "unpicklable-callable")
    assert "main.<locals>.report" in finding["message"]
    assert {
        ("defined", "spawn_nested_target.py", 7),
        ("sent", "spawn_nested_target.py", 11),
    } <= _cited(finding)


@pytest.mark.parametrize("version", sorted(PYTHONS))
def test_missing_guard_names_the_module_level_line(tmp_path, version):
    data = _report(tmp_path, SAMPLES / "missing_main_guard.py", _python(version))
    finding = _only(data, "missing-main-guard")
    assert ("module-level", "missing_main_guard.py", 21) in _cited(finding)
    assert "starts a process again in every child" in finding["message"]
    assert data["outcome"]["status"] == "exited" and data["_returncode"] == 0


@pytest.mark.parametrize("version", sorted(PYTHONS))
def test_respawn_loop_is_stopped_within_a_second_or_so(tmp_path, version):
    data = _report(tmp_path, SAMPLES / "missing_main_guard_pool.py", _python(version))
    assert data["_returncode"] == 124
    assert data["outcome"]["status"] == "stopped-respawn-loop"
    assert data["outcome"]["duration_s"] < 2.5
    finding = _only(data, "missing-main-guard")
    assert "mpdoctor stopped the run" in finding["message"]
    assert "stopped-respawn-loop" in json.dumps(data["outcome"])


def test_forkserver_pool_without_guard_is_stopped_too(tmp_path):
    script = tmp_path / "fs_pool.py"
    script.write_text(
        "import multiprocessing as mp\n"
        "def f(x):\n    return x\n"
        "with mp.get_context('forkserver').Pool(2) as pool:\n"
        "    print(pool.map(f, range(3)))\n"
    )
    data = _report(tmp_path, script)
    assert data["_returncode"] == 124
    finding = _only(data, "missing-main-guard")
    assert ("module-level", "fs_pool.py", 4) in _cited(finding)
    assert "forkserver re-imported the main module" in finding["message"]


def test_initializer_failure_is_shown_once_and_stopped(tmp_path):
    data = _report(tmp_path, SAMPLES / "initializer_failed.py")
    assert data["_returncode"] == 124
    finding = _only(data, "initializer-failed")
    assert finding["title"] == "Pool initializer connect() fails in every worker"
    assert {("raised", "initializer_failed.py", 18), ("created", "initializer_failed.py", 26)} <= (
        _cited(finding)
    )
    assert data["_stderr"].count("initializer-failed:") == 1


def _addresses_out(text: bytes) -> bytes:
    return re.sub(rb"0x[0-9a-f]+", b"0x?", text)


@pytest.mark.parametrize(
    "name",
    ["unpicklable_lambda", "unpicklable_argument", "unpicklable_result", "missing_main_guard"],
)
def test_the_programs_own_output_is_unchanged(tmp_path, name):
    """The probe records and searches, and the exception Python prints is the same bytes."""
    script = SAMPLES / f"{name}.py"
    plain = subprocess.run(
        [sys.executable, str(script)], capture_output=True, timeout=60, cwd=tmp_path
    )
    under = run_mpdoctor(["run", "--mp-log", "off", str(script)], timeout=60, cwd=tmp_path)
    assert under.returncode == plain.returncode
    assert under.stdout == plain.stdout
    assert _addresses_out(under.stderr).startswith(_addresses_out(plain.stderr))


ISSUE_3_SAMPLES = [
    "unpicklable_lambda",
    "unpicklable_argument",
    "unpicklable_result",
    "unpicklable_exception",
    "late_definition",
    "missing_main_guard",
    "missing_main_guard_pool",
    "initializer_failed",
    "interactive_main",
    "child_stdin",
    "daemon_children",
    "start_method_conflict",
    "manager_gone",
    "respawn_loop",
]


@pytest.mark.parametrize("version", ["3.9", "3.13"])
@pytest.mark.parametrize("name", ISSUE_3_SAMPLES)
def test_each_finding_on_older_and_newer_python(tmp_path, name, version):
    """Messages differ by version (3.13 says "Can't get local object", 3.12 names the
    BuiltinImporter): the findings must not."""
    sys.path.insert(0, str(ROOT / "tests" / "donoharm"))
    from sample_meta import read_sample

    sample = read_sample(SAMPLES / f"{name}.py")
    data = _report(tmp_path, sample.path, _python(version))
    assert {f["id"] for f in data["findings"]} == set(sample.expect), data["_stderr"]
    expected = 124 if sample.stopped else sample.exit_code
    assert data["_returncode"] == expected, data["_stderr"]


def test_executor_initializer_failure(tmp_path):
    data = _report(tmp_path, PROGRAMS / "executor_initializer_fails.py")
    finding = _only(data, "initializer-failed")
    assert finding["title"].startswith("ProcessPoolExecutor initializer open_database()")
    assert "BrokenProcessPool" in finding["message"]
    assert ("raised", "executor_initializer_fails.py", 7) in _cited(finding)


def test_guardless_manager_is_a_missing_guard_only(tmp_path):
    data = _report(tmp_path, PROGRAMS / "guardless_manager.py")
    finding = _only(data, "missing-main-guard")  # not also manager-gone: the guard explains it
    assert ("module-level", "guardless_manager.py", 5) in _cited(finding)


def test_guardless_executor_is_a_missing_guard(tmp_path):
    data = _report(tmp_path, PROGRAMS / "guardless_executor.py")
    # not worker-died: the guard explains it. Children that got as far as creating the
    # executor's locks before dying leave them to the resource tracker, at times: then, and
    # only then, leaked-resource too
    ids = [f["id"] for f in data["findings"]]
    tracker_warned = "leaked semaphore objects" in data["_stderr"]
    assert ids == ["missing-main-guard", "leaked-resource"][: 2 if tracker_warned else 1], ids
    finding = data["findings"][0]
    assert ("module-level", "guardless_executor.py", 13) in _cited(finding)
    assert data["_returncode"] == 1  # BrokenProcessPool, as plain python


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_queue_put_dropped_by_the_feeder_thread(tmp_path, method):
    """Queue.put() returns before its feeder thread pickles the object; the failure, printed by
    that thread, names the member (not the put() line: noting it would cost every put()). The
    consumer's Empty follows from it (a finding about the child only); the exit status and
    output are the program's."""
    script = PROGRAMS / "queue_put_unpicklable.py"
    data = _report(tmp_path, script, None, "--start-method", method)
    assert data["_returncode"] == 0, data["_stderr"][-3000:]
    [finding] = [f for f in data["findings"] if f["id"] == "unpicklable-object"]
    assert finding["evidence"][0].startswith("object -> Box.items[2] (_thread.lock): TypeError")
    assert finding["message"].startswith("Queue.put() failed: ")
    assert "dropped the item" in finding["message"]
    main_pid = data["processes"][0]["pid"]
    assert finding["pids"] == [main_pid]
    others = [f for f in data["findings"] if f is not finding]
    assert all(main_pid not in f["pids"] for f in others), others  # the consumer's only
    # the feeder thread's traceback (and the consumer's) are printed as plain python prints them
    launcher = ROOT / "tests" / "donoharm" / "with_start_method.py"
    plain = subprocess.run(
        [sys.executable, str(launcher), method, str(script)],
        capture_output=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert b"TypeError: cannot pickle '_thread.lock' object" in plain.stderr
    assert data["_stderr"].encode().startswith(plain.stderr)
