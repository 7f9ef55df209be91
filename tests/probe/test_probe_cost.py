"""The probe stays cheap: which modules it loads (the times are in bench/, never in tests).

Without multiprocessing the probe loads exactly one module of its own and nothing else a plain
interpreter would not load (no json, re, threading...); with it, the two every spawned child
pays for.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from probe_support import SUPPORTED, interpreter_params, probe_env

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux probe contract"),
]

PYTHONS = interpreter_params(SUPPORTED)
SHOW_MODULES = "import sys, json; print(json.dumps(sorted(sys.modules)))"


def _modules(python: Path, env: dict, code: str = SHOW_MODULES) -> set[str]:
    out = subprocess.run(
        [str(python), "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    return set(json.loads(out))


def _session(tmp_path: Path) -> Path:
    session = tmp_path / "session"
    (session / "events").mkdir(parents=True, exist_ok=True)
    return session


@pytest.mark.parametrize("python", PYTHONS)
def test_startup_loads_one_module_and_nothing_else(python: Path, tmp_path: Path) -> None:
    # json is imported by the printing code itself, after startup, on both sides
    plain = _modules(python, probe_env(None))
    probed = _modules(python, probe_env(_session(tmp_path)))
    assert probed - plain == {"_mpdoctor_probe"}
    assert plain - probed == set()


@pytest.mark.parametrize("python", PYTHONS)
def test_a_spawned_child_loads_one_more_module(python: Path, tmp_path: Path) -> None:
    # what a spawn child imports (spawn_main sets up resource_tracker), with its argv
    code = "import sys; sys.argv[:] = ['-c', '--multiprocessing-fork']; "
    code += "import multiprocessing.spawn, multiprocessing.resource_tracker; " + SHOW_MODULES
    plain = _modules(python, probe_env(None), code)
    probed = _modules(python, probe_env(_session(tmp_path)), code)
    assert probed - plain == {"_mpdoctor_probe", "_mpdoctor_probe._mp"}  # no stdlib extra


@pytest.mark.parametrize("python", PYTHONS)
def test_pool_watches_load_with_the_pool_module(python: Path, tmp_path: Path) -> None:
    code = "import multiprocessing.pool, concurrent.futures.process; " + SHOW_MODULES
    plain = _modules(python, probe_env(None), code)
    probed = _modules(python, probe_env(_session(tmp_path)), code)
    # a program's root also loads `_parent` (see _mp.install); `_pools` and the rest load only
    # when a pool starts
    assert probed - plain == {
        "_mpdoctor_probe",
        "_mpdoctor_probe._mp",
        "_mpdoctor_probe._parent",
        "_mpdoctor_probe._watches",
    }
