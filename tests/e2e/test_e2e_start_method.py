"""`mpdoctor run --start-method`: the default start method changes, the program's own choices do
not, and the latent bugs of spawn and forkserver show up on Linux."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from cli_support import ROOT, run_mpdoctor

pytestmark = pytest.mark.timeout(120)

SAMPLES = ROOT / "samples"
PROGRAMS = Path(__file__).resolve().parent / "programs"
METHODS = ("fork", "spawn", "forkserver")
PREFIX = {
    "fork": "ForkPoolWorker",
    "spawn": "SpawnPoolWorker",
    "forkserver": "ForkServerPoolWorker",
}


def _run(tmp_path: Path, script: Path, method: str | None, *extra: str):
    report = tmp_path / "report.json"
    args = ["run", "--mp-log", "off", "--report", str(report)]
    if method:
        args += ["--start-method", method]
    result = run_mpdoctor([*args, *extra, str(script)], timeout=60, cwd=tmp_path)
    assert report.exists(), result.stderr.decode(errors="replace")
    return result, json.loads(report.read_text())


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("sample", ["pool_map", "executor_map", "queue_producer_consumer"])
def test_correct_programs_run_under_each_forced_method(tmp_path, sample, method):
    result, data = _run(tmp_path, SAMPLES / f"{sample}.py", method)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert data["findings"] == []
    assert data["environment"]["start_method"] == f"{method} (forced)"
    if sample == "pool_map":
        names = {p["name"] for p in data["processes"] if p["role"] == "pool-worker"}
        assert names and all(n.startswith(PREFIX[method]) for n in names), names


def test_forcing_spawn_reveals_a_missing_guard(tmp_path):
    script = PROGRAMS / "guardless_pool.py"
    plain, data = _run(tmp_path, script, None)
    assert plain.returncode == 0 and data["findings"] == []  # fork: works on Linux
    forced, data = _run(tmp_path, script, "spawn")
    assert forced.returncode == 124
    assert data["outcome"]["status"] == "stopped-respawn-loop"
    assert [f["id"] for f in data["findings"]] == ["missing-main-guard"]
    assert data["environment"]["start_method"] == "spawn (forced)"


def test_the_programs_own_choice_wins_and_is_listed(tmp_path):
    result, data = _run(tmp_path, PROGRAMS / "chooses_fork.py", "spawn")
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert result.stdout.decode().strip() == "['ForkPoolWorker-1']"
    assert data["findings"] == []
    assert data["environment"]["start_method"] == "fork"
    assert any("chose fork itself" in note for note in data["notes"]), data["notes"]


def test_globals_are_not_inherited_under_forced_spawn(tmp_path):
    script = tmp_path / "globals.py"
    script.write_text(
        "import multiprocessing as mp\n"
        "STATE = 'default'\n"
        "def show(_):\n    return STATE\n"
        "if __name__ == '__main__':\n"
        "    STATE = 'set-in-main'\n"
        "    with mp.Pool(1) as pool:\n        print(pool.map(show, [0]))\n"
    )
    fork, _ = _run(tmp_path, script, "fork")
    spawn, _ = _run(tmp_path, script, "spawn")
    assert fork.stdout.strip() == b"['set-in-main']"
    assert spawn.stdout.strip() == b"['default']"  # what macOS and Windows print


def test_bad_start_method_is_a_usage_error(tmp_path):
    result = run_mpdoctor(["run", "--start-method", "thread", str(SAMPLES / "pool_map.py")])
    assert result.returncode == 2
    assert b"Traceback" not in result.stderr


def test_a_packages_main_under_spawn_is_explained(tmp_path):
    package = tmp_path / "myapp"
    package.mkdir()
    (package / "__main__.py").write_text(
        "from multiprocessing import Pool\n\n\n"
        "def local_task(x):\n    return x + 1\n\n\n"
        'if __name__ == "__main__":\n'
        "    with Pool(2) as pool:\n        print(pool.map(local_task, range(3)))\n"
    )
    report = tmp_path / "report.json"
    args = ["run", "--mp-log", "off", "--report", str(report), "--start-method", "spawn"]
    result = run_mpdoctor([*args, "--timeout", "20", "-m", "myapp"], timeout=60, cwd=tmp_path)
    data = json.loads(report.read_text())
    [finding] = [f for f in data["findings"] if f["id"] == "interactive-main"]
    assert finding["title"] == "children never import a package's __main__", result.stderr
    assert (
        "as python -m myapp (its __main__.py, which children never import)" in (finding["message"])
    )


def _not_applied(tmp_path: Path, argv: list[str]) -> None:
    """--start-method spawn where no process can register the probe: the module-level Pool
    runs under fork (its output says so), and the report must not claim spawn was forced."""
    script = tmp_path / "module_pool.py"
    script.write_text(
        "import multiprocessing as mp\n"
        "pool = mp.Pool(2)\n"
        "print(pool.map(abs, [-1, -2]), mp.get_start_method())\n"
        "pool.close()\npool.join()\n"
    )
    report = tmp_path / "report.json"
    args = ["run", "--color", "never", "--mp-log", "off", "--start-method", "spawn"]
    args += ["--report", str(report), *argv, str(script)]
    result = run_mpdoctor(args, timeout=60, cwd=tmp_path)
    err = result.stderr.decode(errors="replace")
    assert result.returncode == 0, err
    assert result.stdout.decode().strip() == "[1, 2] fork"
    assert "(forced)" not in err
    assert "start method  unknown (--start-method spawn not applied: no probe)" in err
    data = json.loads(report.read_text())
    assert data["environment"]["start_method"] == (
        "unknown (--start-method spawn not applied: no probe)"
    )
    assert any("--start-method spawn was not applied" in n for n in data["notes"]), data["notes"]


def test_a_start_method_the_probe_could_not_apply_is_not_claimed_python_dash_e(tmp_path):
    _not_applied(tmp_path, ["--", sys.executable, "-E"])


def test_a_start_method_the_probe_could_not_apply_is_not_claimed_python_3_7(tmp_path):
    python = "/root/.pyenv/versions/3.7.16/bin/python"
    if not os.path.exists(python):
        pytest.skip("no Python 3.7 here")
    _not_applied(tmp_path, ["--python", python])
