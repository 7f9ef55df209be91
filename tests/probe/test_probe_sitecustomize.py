"""The probe's sitecustomize: chains to the one it shadows, on every Python, and hides itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from probe_support import (
    OLD,
    PROBE_ROOT,
    SUPPORTED,
    interpreter_params,
    probe_env,
    run_probed,
    run_unprobed,
)

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux probe contract"),
]

ALL_PYTHONS = interpreter_params(OLD + SUPPORTED)

SHOW = """\
from __future__ import print_function
import sys
module = sys.modules.get("sitecustomize")
print("runs", getattr(sys, "user_site_runs", 0))
print("module", getattr(module, "MARKER", None) if module else "absent")
print("probe on path", any("_probe_root" in p for p in sys.path))
print("user dir on path", any(p.endswith("user_site") for p in sys.path))
print("extra", getattr(sys, "user_site_extra", None) in sys.path)
"""

USER_SITECUSTOMIZE = """\
import sys
sys.user_site_runs = getattr(sys, "user_site_runs", 0) + 1
sys.user_site_extra = "/nonexistent/added-by-user-sitecustomize"
sys.path.append(sys.user_site_extra)
MARKER = "user"
"""


def _user_site(tmp_path: Path, text: str | None) -> tuple[Path, str]:
    user = tmp_path / "user_site"
    user.mkdir()
    if text is not None:
        (user / "sitecustomize.py").write_text(text)
    program = tmp_path / "show.py"
    program.write_text(SHOW)
    return program, str(user)


@pytest.mark.parametrize("with_session", [True, False], ids=["session", "no-session"])
@pytest.mark.parametrize("python", ALL_PYTHONS)
def test_user_sitecustomize_chained(python: Path, tmp_path: Path, with_session: bool) -> None:
    program, user = _user_site(tmp_path, USER_SITECUSTOMIZE)
    if with_session:
        run = run_probed(python, program, extra_path=user, cwd=tmp_path)
    else:
        run = run_unprobed(python, program, extra_path=user, probe_path=True, cwd=tmp_path)
    assert run.stderr == b""
    assert run.stdout.decode().splitlines() == [
        "runs 1",
        "module user",
        "probe on path False",
        "user dir on path True",
        "extra True",  # the user's own sys.path change survives
    ]
    plain = run_unprobed(python, program, extra_path=user, cwd=tmp_path)
    assert run.stdout == plain.stdout


@pytest.mark.parametrize("python", ALL_PYTHONS)
def test_no_user_sitecustomize(python: Path, tmp_path: Path) -> None:
    program, user = _user_site(tmp_path, None)
    run = run_probed(python, program, extra_path=user, cwd=tmp_path)
    plain = run_unprobed(python, program, extra_path=user, cwd=tmp_path)
    assert (run.stdout, run.stderr, run.returncode) == (plain.stdout, b"", 0)
    assert "module absent" in run.stdout.decode()


@pytest.mark.parametrize(
    "text",
    [
        "x = 1\n1 / 0\n",
        "import module_that_does_not_exist_anywhere\n",
        "raise ImportError('custom import failure')\n",
        "import sys\nsys.user_site_runs = 1\nraise SystemError('sitecustomize broke')\n",
    ],
    ids=["ZeroDivisionError", "missing-import", "ImportError", "SystemError"],
)
@pytest.mark.parametrize("python", ALL_PYTHONS)
def test_failing_user_sitecustomize_reported_as_without_probe(
    python: Path, tmp_path: Path, text: str
) -> None:
    program, user = _user_site(tmp_path, text)
    plain = run_unprobed(python, program, extra_path=user, cwd=tmp_path)
    probed = run_probed(python, program, extra_path=user, cwd=tmp_path)
    assert (probed.stdout, probed.stderr, probed.returncode) == (
        plain.stdout,
        plain.stderr,
        plain.returncode,
    )


def test_probe_root_holds_only_sitecustomize_and_the_package() -> None:
    names = {p.name for p in PROBE_ROOT.iterdir() if p.name != "__pycache__"}
    assert names <= {"sitecustomize.py", "sitecustomize.pyc", "_mpdoctor_probe"}
    assert {"sitecustomize.py", "_mpdoctor_probe"} <= names


SPAWN_CHILD_IMPORTS = """\
import importlib.util, inspect, os, sys
import multiprocessing.spawn
import _mpdoctor_probe as probe
mp = sys.modules["_mpdoctor_probe._mp"]
package_dir = os.path.dirname(probe.__file__)
print("on", probe.on)
print("finder for the package", package_dir in sys.path_importer_cache)
print("spec", importlib.util.find_spec("_mpdoctor_probe._mp").origin == mp.__file__)
print("source", "def hooked_spec" in inspect.getsource(mp))
print("stale mark", getattr(mp, "STALE_MARK", None))
"""


def _probe_copy(tmp_path: Path, python: Path) -> Path:
    """A copy of the probe root with byte-code caches that `python` wrote itself."""
    root = tmp_path / "probe_root"
    shutil.copytree(PROBE_ROOT, root, ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([str(python), "-m", "compileall", "-q", str(root)], check=True, env=env)
    return root


def _spawn_child_imports(
    python: Path, root: Path, tmp_path: Path, flags: tuple[str, ...] = ()
) -> dict[str, str]:
    """A process with a spawned child's command line importing what one imports."""
    session = tmp_path / "session"
    for name in ("events", "pyc"):
        (session / name).mkdir(parents=True, exist_ok=True)
    env = {**probe_env(session), "PYTHONPATH": str(root)}
    done = subprocess.run(
        [str(python), *flags, "-c", SPAWN_CHILD_IMPORTS, "--multiprocessing-fork"],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert done.stderr == ""
    return dict(line.rsplit(" ", 1) for line in done.stdout.splitlines())


@pytest.mark.parametrize("python", interpreter_params(SUPPORTED))
def test_the_probe_modules_load_from_their_cache_without_importlib_finders(
    python: Path, tmp_path: Path
) -> None:
    # importlib's finders would list the package's directory (a path_importer_cache entry):
    # the probe reads the package and `_mp` from their .pyc itself, as full modules
    shown = _spawn_child_imports(python, _probe_copy(tmp_path, python), tmp_path)
    assert shown == {
        "on": "True",
        "finder for the package": "False",
        "spec": "True",
        "source": "True",
        "stale mark": "None",
    }


@pytest.mark.parametrize("change", ["stale", "missing"])
def test_a_stale_or_missing_cache_is_compiled_once_into_the_session(tmp_path: Path, change) -> None:
    """A Python that may not write the cache (-B here; a read-only install or another version
    alike) compiles the probe once per session, into SESSION/pyc, not in every process; stale
    code never runs."""
    python = Path(sys.executable)
    root = _probe_copy(tmp_path, python)
    if change == "stale":  # the source changed after the cache was written: never run the old code
        source = root / "_mpdoctor_probe" / "_mp.py"
        source.write_text(source.read_text() + "\nSTALE_MARK = 1\n")
    else:
        for cache in root.rglob("__pycache__"):
            shutil.rmtree(cache)
    shown = _spawn_child_imports(python, root, tmp_path, ("-B",))
    assert shown["on"] == "True" and shown["finder for the package"] == "False"
    assert shown["stale mark"] == ("1" if change == "stale" else "None")
    assert shown["source"] == "True" and shown["spec"] == "True"
    private = tmp_path / "session" / "pyc"
    tag = sys.implementation.cache_tag
    written = {p.name: p.stat().st_ino for p in private.iterdir()}
    assert f"_mp.{tag}.pyc" in written
    assert (f"__init__.{tag}.pyc" in written) == (change == "missing")
    assert (root / "_mpdoctor_probe" / "__pycache__").exists() == (change == "stale")
    # The next process of the session reads what the first wrote, and rewrites nothing.
    again = _spawn_child_imports(python, root, tmp_path, ("-B",))
    assert again == shown
    assert {p.name: p.stat().st_ino for p in private.iterdir()} == written


def _uncached_probe(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """(probe root, session, environment): a copy of the probe without byte-code caches."""
    root = tmp_path / "probe_root"
    shutil.copytree(PROBE_ROOT, root, ignore=shutil.ignore_patterns("__pycache__"))
    session = tmp_path / "session"
    for name in ("events", "pyc"):
        (session / name).mkdir(parents=True)
    return root, session, {**probe_env(session), "PYTHONPATH": str(root)}


def test_a_missing_cache_is_written_beside_the_source_where_python_may(tmp_path: Path) -> None:
    """As an import would: the next session's processes need not compile either."""
    python = Path(sys.executable)
    root, _, env = _uncached_probe(tmp_path)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    done = subprocess.run(
        [str(python), "-c", "import multiprocessing.spawn"], env=env, capture_output=True,
        timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, b"")
    tag = sys.implementation.cache_tag
    beside = {p.name for p in (root / "_mpdoctor_probe" / "__pycache__").iterdir()}
    assert {f"__init__.{tag}.pyc", f"_mp.{tag}.pyc"} <= beside


def test_the_probe_own_modules_come_from_the_session_cache_too(tmp_path: Path) -> None:
    """Not only the package and `_mp`: every module of the probe a process imports."""
    python = Path(sys.executable)
    _, session, env = _uncached_probe(tmp_path)
    show = (
        "import sys, _mpdoctor_probe._stack as s, _mpdoctor_probe._search as f\n"
        "print(type(s.__loader__).__name__, type(f.__loader__).__name__)\n"
    )
    done = subprocess.run(
        [str(python), "-B", "-c", show], env=env, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "_OwnLoader _OwnLoader\n")
    tag = sys.implementation.cache_tag
    names = {p.name for p in (session / "pyc").iterdir()}
    assert {f"_stack.{tag}.pyc", f"_search.{tag}.pyc"} <= names
