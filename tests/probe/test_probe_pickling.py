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


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("python", PYTHONS)
def test_queue_put_dropped_by_the_feeder_thread_is_named(python, method) -> None:
    """Queue.put() returns at once; the feeder thread pickles later, prints the error and drops
    the item. In the parent and in a child; put() itself is left alone (no site)."""
    program = PROGRAMS / "queue_put_unpicklable.py"
    run = run_probed(python, program, method)
    plain = run_unprobed(python, program, method)
    assert run.returncode == plain.returncode == 0, run.text()
    assert run.stdout == plain.stdout == b"next\nok\n"
    assert _no_addresses(run.stderr) == _no_addresses(plain.stderr)
    assert run.stderr.count(b"TypeError: cannot pickle '_thread.lock' object") == 2
    [parent] = run.of("unpicklable", run.main_pid)
    assert parent["what"] == "object" and parent["api"] == "Queue.put"
    assert parent["dropped"] is True and parent["awaited"] is False
    assert [(m["path"], m["type"]) for m in parent["members"]] == [
        ("object -> Box.items[2]", "_thread.lock")
    ]
    assert parent["site"] is None
    [child] = [e for e in run.of("unpicklable") if e["pid"] != run.main_pid]
    assert child["api"] == "Queue.put" and child["dropped"] is True  # a JoinableQueue's
    assert [m["path"] for m in child["members"]] == ["object['guard']"]


@pytest.mark.parametrize(("how", "api", "line"), [("queue", "SimpleQueue.put", 21),
                                                  ("pipe", "Connection.send", 23)])  # fmt: skip
@pytest.mark.parametrize("python", PYTHONS)
def test_send_site_is_the_tracebacks_line_after_a_finally_block(python, how, api, line) -> None:
    program = PROGRAMS / "send_in_try_finally.py"
    run = run_probed(python, program, "spawn", how)
    plain = run_unprobed(python, program, "spawn", how)
    assert run.returncode == plain.returncode == 1
    assert _no_addresses(run.stderr) == _no_addresses(plain.stderr)
    [event] = run.of("unpicklable", run.main_pid)
    assert event["api"] == api and "dropped" not in event
    assert [m["path"] for m in event["members"]] == ["object -> Box.items[2]"]
    assert event["site"]["line"] == line
