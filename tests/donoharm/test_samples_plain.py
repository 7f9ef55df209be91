"""The samples themselves, run by plain python: the baseline the mpdoctor tests compare against.

Every sample must state its expectations, exit as its `Exit:` line says under every start
method on 3.8, 3.11 and 3.13 (3.8 and 3.13 marked slow), finish in a few seconds, and (for
correct ones) print no traceback.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from sample_meta import ALL_METHODS, all_samples  # noqa: E402

ROOT = HERE.parent.parent
SAMPLES = all_samples(ROOT / "samples")
LAUNCHER = HERE / "with_start_method.py"
PYTHONS = {
    "3.8": Path("/root/.pyenv/versions/3.8.18/bin/python"),
    "3.11": Path(sys.executable),
    "3.13": Path("/root/.pyenv/versions/3.13.0/bin/python"),
}


def test_every_finding_made_so_far_has_a_sample():
    expected = {
        "process-crashed",
        "worker-died",
        "orphan-process",
        "zombie-process",
        "leaked-resource",
        "missing-main-guard",
        "initializer-failed",
        "unpicklable-callable",
        "unpicklable-object",
        "unpicklable-result",
        "unpicklable-exception",
        "interactive-main",
        "child-stdin",
        "daemon-children",
        "start-method-conflict",
        "manager-gone",
        "respawn-loop",
    }
    assert expected <= {fid for s in SAMPLES for fid in s.expect}
    assert sum(s.correct for s in SAMPLES) >= 11


# 3.11 (the CLI's interpreter) in every run; the other versions with the slow marker.
VERSIONS = [v if v == "3.11" else pytest.param(v, marks=pytest.mark.slow) for v in sorted(PYTHONS)]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.path.stem)
def test_sample_runs_as_documented(sample, method, version):
    python = PYTHONS[version]
    if not python.exists():
        pytest.skip(f"no Python {version} at {python}")
    proc = subprocess.run(
        [str(python), str(LAUNCHER), method, str(sample.path)],
        capture_output=True,
        timeout=20,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    stderr = proc.stderr.decode(errors="replace")
    assert proc.returncode == sample.exit_code, stderr
    if sample.correct:
        assert "Traceback" not in stderr
        assert "Warning" not in stderr
