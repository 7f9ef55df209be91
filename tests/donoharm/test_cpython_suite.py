"""Do no harm: CPython's own multiprocessing tests give the same results under `mpdoctor run`.

CI runs one start method, forkserver: its server is started like a spawn child (the probe
arrives through sitecustomize) and its workers are forked from it (the probe's at-fork path),
so it covers both ways the probe reaches a process. The `WithThreads*` tests (the same API on
multiprocessing.dummy, threads of one process) are left out there to stay within a few minutes.
The slow marker runs the full suite for all three start methods. See docs/donoharm.md.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from referee import DEFAULT_WRAP, Referee, render  # noqa: E402

CI_METHOD = "forkserver"
CI_EXCLUDE = ["WithThreads*"]


def referee(method: str, work_dir: Path, **options) -> Referee:
    return Referee(
        method=method,
        python=sys.executable,
        wrap=shlex.split(DEFAULT_WRAP),
        work_dir=work_dir,
        timeout=420,
        test_timeout=120,
        **options,
    )


@pytest.mark.timeout(900)
def test_cpython_multiprocessing_suite_same_under_mpdoctor(tmp_path):
    # One plain run: a difference is re-run on both sides before it counts (flaky otherwise).
    ref = referee(CI_METHOD, tmp_path, exclude=CI_EXCLUDE, plain_runs=1, confirm_runs=2)
    comparison = ref.referee()
    assert comparison.compared > 250, render(ref, comparison)
    assert comparison.ok, render(ref, comparison)


@pytest.mark.slow
@pytest.mark.timeout(2400)
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_full_cpython_multiprocessing_suite_same_under_mpdoctor(method, tmp_path):
    ref = referee(method, tmp_path, plain_runs=2, confirm_runs=2)
    comparison = ref.referee()
    assert comparison.compared > 350, render(ref, comparison)
    assert comparison.ok, render(ref, comparison)
