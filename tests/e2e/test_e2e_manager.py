"""manager-gone through the real CLI: a server the program killed is named as the cause, with
the signal and the line that sent it, not multiprocessing's exit handler."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import run_mpdoctor

pytestmark = pytest.mark.timeout(120)

PROGRAMS = Path(__file__).resolve().parent / "programs"


def test_a_killed_manager_server_is_the_cause(tmp_path):
    report = tmp_path / "report.json"
    args = ["run", "--color", "never", "--mp-log", "off", "--report", str(report)]
    # run from the source tree (run_mpdoctor's default cwd), not an installed copy
    result = run_mpdoctor([*args, str(PROGRAMS / "manager_killed.py")], timeout=60)
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == 1, stderr  # the BrokenPipeError, as plain python
    data = json.loads(report.read_text())
    # one producer: the server's death is manager-gone's cause, not also process-crashed
    assert [f["id"] for f in data["findings"]] == ["manager-gone"], stderr
    finding = data["findings"][0]
    assert "SIGKILL" in finding["message"]
    assert "manager_killed.py:8" in finding["message"]
    assert "exit handler" not in finding["message"]
    cited = {(loc["role"], Path(loc["file"]).name, loc["line"]) for loc in finding["locations"]}
    assert {("used", "manager_killed.py", 10), ("killed", "manager_killed.py", 8)} <= cited
    assert "with Manager()" not in finding["hint"]["fix"]
