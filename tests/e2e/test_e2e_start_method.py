"""`mpdoctor run --start-method`: the default start method changes, the program's own choices do
not, and the latent bugs of spawn and forkserver show up on Linux."""

from __future__ import annotations

import json
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
