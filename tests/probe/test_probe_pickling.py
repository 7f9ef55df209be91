"""Pickling failures as the probe records them, in every supported Python and start method,
with the program's output unchanged (the search runs after the failure, the traceback Python
prints is its own)."""

from __future__ import annotations

import re

import pytest
from probe_support import (
    PROGRAMS,
    START_METHODS,
    SUPPORTED,
    interpreter_params,
    run_probed,
    run_unprobed,
)

pytestmark = pytest.mark.timeout(120)

PYTHONS = interpreter_params(SUPPORTED)


def _no_addresses(text: bytes) -> bytes:
    return re.sub(rb"0x[0-9a-f]+", b"0x?", text)


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_unpicklable_task_members_are_named(python, method) -> None:
    run = run_probed(python, PROGRAMS / "sends_unpicklable.py", method)
    plain = run_unprobed(python, PROGRAMS / "sends_unpicklable.py", method)
    assert run.returncode == plain.returncode == 1
    assert _no_addresses(run.stderr) == _no_addresses(plain.stderr)
    [event] = run.of("unpicklable", run.main_pid)
    assert event["what"] == "task" and event["api"] == "Pool.apply"
    paths = [(m["path"], m["kind"]) for m in event["members"]]
    assert paths == [("args[0] -> Job.guard", "object"), ("args[1]", "callable")]
    assert event["site"]["line"] == 20 and event["site"]["file"].endswith("sends_unpicklable.py")
    [uncaught] = [e for e in run.of("exception", run.main_pid) if e["where"] == "uncaught"]
    assert uncaught["traceback"] in run.stderr.decode()
