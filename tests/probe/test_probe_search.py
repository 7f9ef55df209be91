"""The probe's search for unpicklable members (`_mpdoctor_probe._search`).

A property test builds random nested containers and objects with unpicklable leaves planted at
known paths and checks that the search reports exactly those paths; fixed cases check what it
must never do (start a thread, open a descriptor, run past its budget) and that every supported
Python gives the same answer.
"""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.connection  # registers Connection's reducer, as a real program has it
import os
import socket
import subprocess
import sys
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from probe_support import PROBE_ROOT, SUPPORTED, interpreter_params

sys.path.insert(0, str(PROBE_ROOT))
from _mpdoctor_probe._search import find_unpicklable

pytestmark = pytest.mark.timeout(120)


class Holder:
    """An object whose attributes are saved through __reduce_ex__ (its __dict__)."""


class Worker:
    def run(self):
        return 1


class Slotted:
    __slots__ = ("first", "second")


def _generator():
    yield 1


# Leaves that multiprocessing cannot pickle, with the kind the search must give them.
def _lock():
    return threading.Lock(), "object"


def _rlock():
    return threading.RLock(), "object"


def _gen():
    return _generator(), "object"


def _file():
    return open(os.devnull), "object"


def _mp_lock():
    return multiprocessing.Lock(), "object"  # only inheritance may share it


def _lambda():
    return (lambda: 1), "callable"


def _nested():
    def inner():
        return 1

    return inner, "callable"


UNPICKLABLE = [_lock, _rlock, _gen, _file, _mp_lock, _lambda, _nested]
PICKLABLE = st.one_of(
    st.integers(), st.text(max_size=5), st.none(), st.floats(allow_nan=False), st.binary(max_size=4)
)


@st.composite
def planted(draw, depth=0):
    """(value, {path suffix: kind}): a random structure, the unpicklable leaves it holds and
    the path of each, relative to the value (a suffix starting with "[" or " -> ")."""
    if depth >= 3 or draw(st.integers(0, 3)) == 0:
        if draw(st.booleans()):
            value, kind = draw(st.sampled_from(UNPICKLABLE))()
            return value, {"": kind}
        return draw(PICKLABLE), {}
    shape = draw(st.sampled_from(["list", "tuple", "dict", "object", "slots"]))
    size = draw(st.integers(0, 3))
    parts = [draw(planted(depth + 1)) for _ in range(size if shape != "slots" else 2)]
    found: dict[str, str] = {}
    if shape in ("list", "tuple"):
        for i, (_, paths) in enumerate(parts):
            found.update({f"[{i}]{p}": k for p, k in paths.items()})
        values = [v for v, _ in parts]
        return (values if shape == "list" else tuple(values)), found
    if shape == "dict":
        value = {}
        for i, (item, paths) in enumerate(parts):
            value[f"k{i}"] = item
            found.update({f"['k{i}']{p}": k for p, k in paths.items()})
        return value, found
    obj = Holder() if shape == "object" else Slotted()
    names = [f"a{i}" for i in range(len(parts))] if shape == "object" else ["first", "second"]
    for name, (item, paths) in zip(names, parts, strict=True):
        setattr(obj, name, item)
        owner = type(obj).__name__
        found.update({f" -> {owner}.{name}{p}": k for p, k in paths.items()})
    return obj, found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(planted())
def test_reports_exactly_the_planted_paths(case) -> None:
    value, planted_paths = case
    found, truncated = find_unpicklable([("args[0]", value)])
    assert not truncated
    assert {m["path"]: m["kind"] for m in found} == {
        "args[0]" + suffix: kind for suffix, kind in planted_paths.items()
    }
    assert len(found) == len(planted_paths)  # each member once


def test_names_the_type_the_reason_and_where_a_callable_is_defined() -> None:
    holder = Holder()
    holder.guard = threading.Lock()
    holder.callback = lambda x: x  # defined on this line
    line = sys._getframe().f_lineno - 1
    found, _ = find_unpicklable([("args[0]", holder)])
    by_path = {m["path"]: m for m in found}
    guard = by_path["args[0] -> Holder.guard"]
    assert guard["type"] == "_thread.lock"
    assert "cannot pickle" in guard["reason"]
    callback = by_path["args[0] -> Holder.callback"]
    assert callback["kind"] == "callable"
    assert callback["name"].endswith("<lambda>")
    assert callback["defined"] == {"file": __file__, "line": line}


def test_local_class_instances_are_callables_and_bound_methods_lead_to_self() -> None:
    class Local:
        def run(self):
            return 1

    worker = Worker()
    worker.guard = threading.Lock()
    found, _ = find_unpicklable([("instance", Local()), ("function", worker.run)])
    paths = {m["path"]: m for m in found}
    assert paths["instance"]["kind"] == "callable" and paths["instance"]["instance"]
    assert "defined inside" in paths["instance"]["reason"]
    assert "function -> Worker.run.__self__ -> Worker.guard" in paths


def test_multiprocessing_reducers_are_leaves_no_thread_no_descriptor() -> None:
    """Sockets and connections pickle fine for multiprocessing (DupFd reducers); the search
    must not call those reducers, which duplicate descriptors and may start the resource
    sharer's thread."""
    left, right = multiprocessing.Pipe()
    sock = socket.socket()
    try:
        threads = threading.active_count()
        fds = len(os.listdir("/proc/self/fd"))
        found, truncated = find_unpicklable([("args[0]", [left, right, sock, {"s": sock}])])
        assert found == [] and not truncated
        assert threading.active_count() == threads
        assert len(os.listdir("/proc/self/fd")) == fds
    finally:
        left.close()
        right.close()
        sock.close()


def test_budget_bounds_a_huge_object() -> None:
    huge = [list(range(50)) for _ in range(2_000)] + [threading.Lock()]
    found, truncated = find_unpicklable([("args[0]", huge)], budget=5_000)
    assert truncated and found == []
    found, truncated = find_unpicklable([("args[0]", huge)], budget=200_000)
    assert not truncated and [m["path"] for m in found] == ["args[0][2000]"]


def test_cycles_end() -> None:
    a, b = Holder(), Holder()
    a.other, b.other = b, a
    b.guard = threading.Lock()
    found, truncated = find_unpicklable([("args[0]", a)])
    assert [m["path"] for m in found] == ["args[0] -> Holder.other -> Holder.guard"]
    assert not truncated


CROSS_VERSION = r"""
import json, sys, threading
sys.path.insert(0, sys.argv[1])
from _mpdoctor_probe._search import find_unpicklable

class Account:
    def __init__(self):
        self.name = "a"
        self.guard = threading.Lock()
        self.audit = open(__import__("os").devnull)
        self.rows = [1, (i for i in range(2)), {"cb": lambda: 0}]

def outer():
    def inner():
        pass
    return inner

found, truncated = find_unpicklable([("args[0]", Account()), ("function", outer())])
print(json.dumps([[m["path"], m["kind"]] for m in found]))
"""


@pytest.mark.parametrize("python", interpreter_params(SUPPORTED))
def test_same_paths_on_every_supported_python(python) -> None:
    out = subprocess.run(
        [str(python), "-c", CROSS_VERSION, str(PROBE_ROOT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"PATH": os.environ.get("PATH", "")},
    ).stdout
    assert json.loads(out) == [
        ["args[0] -> Account.guard", "object"],
        ["args[0] -> Account.audit", "object"],
        ["args[0] -> Account.rows[1]", "object"],
        ["args[0] -> Account.rows[2]['cb']", "callable"],
        ["function", "callable"],
    ]


def test_big_buffers_are_not_reduced() -> None:
    """An array-like object of megabytes is data: its reduce would copy it all, at exit."""

    class Big:
        def __sizeof__(self):
            return 64 << 20

        def __reduce_ex__(self, protocol):
            raise AssertionError("a big buffer must not be reduced")

    found, truncated = find_unpicklable([("args[0]", [Big(), threading.Lock()])])
    assert [m["path"] for m in found] == ["args[0][1]"] and not truncated
