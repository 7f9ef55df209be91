"""What the report says of each process on real runs: its role when its command line could not
be read, and a lifetime that never ends before it starts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from cli_support import run_mpdoctor

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork, /proc"),
]

PROGRAMS = Path(__file__).resolve().parent / "programs"


def _run(tmp_path: Path, script: str) -> tuple[str, dict]:
    report = tmp_path / "report.json"
    args = ["run", "--color", "never", "--mp-log", "off", "--report", str(report)]
    result = run_mpdoctor([*args, str(PROGRAMS / script)], timeout=60, cwd=tmp_path)
    err = result.stderr.decode(errors="replace")
    assert result.returncode == 0, err
    return err, json.loads(report.read_text())


def test_a_fork_child_gone_before_its_command_line_was_read_is_a_fork_child(tmp_path):
    err, data = _run(tmp_path, "double_fork.py")
    main = data["processes"][0]
    assert main["role"] == "main"
    first = [p for p in data["processes"] if p["ppid"] == main["pid"]]
    assert first, data["processes"]  # sampled as the zombie it stays for 0.5 s
    assert [p["role"] for p in first] == ["fork-child"], first
    assert all(p["role"] != "non-python" for p in data["processes"]), data["processes"]
    assert "non-python" not in err


def test_short_children_never_end_before_they_start(tmp_path):
    for _ in range(5):  # unfixed, a child ends "before" it starts in about every other run
        err, data = _run(tmp_path, "many_short_children.py")
        assert len(data["processes"]) == 21, data["processes"]
        for p in data["processes"]:
            assert p["started_s"] is not None and p["ended_s"] is not None, p
            assert p["ended_s"] >= p["started_s"], p
        for line in err.splitlines():  # "0.08-0.07 s" in the tree
            if line.rstrip().endswith(" s") and "-" in line.rsplit(", ", 1)[-1]:
                start, end = line.rsplit(", ", 1)[-1].removesuffix(" s").split("-")
                assert float(end) >= float(start), line
