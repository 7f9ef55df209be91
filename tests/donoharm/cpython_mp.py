"""Run CPython's multiprocessing tests for one start method, one JSON line per test.

Runs inside the target interpreter (3.8 to 3.13, so 3.8 syntax only), plain or under
`mpdoctor run`, and writes what happened so `referee.py` can compare the two runs:

    python cpython_mp.py --start-method spawn --out results.jsonl [--match GLOB ...]
        [--exclude GLOB ...] [--budget SECONDS] [--test-timeout SECONDS] [--use cpu,walltime]

The tests are `test._test_multiprocessing` installed with `install_tests_in_module_dict`, as
`test/test_multiprocessing_<method>.py` does (those wrapper files are missing from some installed
3.11/3.12 trees, so the module is built here: `_cpython_mp_suite.py`). Test ids drop the module
name: `WithProcessesTestPool.test_map`. Output lines (each flushed, so a killed run keeps what it
did): `{"event": "header", ...}`, then per test `{"event": "start", "id"}` and
`{"event": "result", "id", "status", "duration", "detail"}` with status pass | fail | error | skip
| xfail | xpass, then `{"event": "end", ...}`. A test that started without a result hung (the
per-test timeout ends the process through faulthandler, which also prints every thread's stack).
"""

from __future__ import annotations

import argparse
import faulthandler
import fnmatch
import json
import os
import signal
import sys
import time
import unittest

METHOD_VAR = "MPDOCTOR_DONOHARM_METHOD"
SUITE_MODULE = "_cpython_mp_suite"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start-method", required=True, choices=["fork", "spawn", "forkserver"])
    parser.add_argument("--out", help="JSON lines file to write (default: stdout only with --list)")
    parser.add_argument("--match", action="append", default=[], help="glob on test ids (any)")
    parser.add_argument("--exclude", action="append", default=[], help="glob on test ids")
    parser.add_argument("--budget", type=float, default=0, help="start no test after this (s)")
    parser.add_argument("--test-timeout", type=float, default=120, help="per test, then abort")
    parser.add_argument("--use", default="", help="test resources to enable, as regrtest -u")
    parser.add_argument("--list", action="store_true", help="print the selected ids and exit")
    return parser.parse_args(argv)


def short_id(test: unittest.TestCase) -> str:
    test_id = test.id()
    prefix = SUITE_MODULE + "."
    return test_id[len(prefix) :] if test_id.startswith(prefix) else test_id


def iter_tests(suite: unittest.TestSuite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from iter_tests(item)
        else:
            yield item


def select(tests: list, match: list[str], exclude: list[str]) -> list:
    def wanted(test_id: str) -> bool:
        if match and not any(fnmatch.fnmatchcase(test_id, pat) for pat in match):
            return False
        return not any(fnmatch.fnmatchcase(test_id, pat) for pat in exclude)

    return [t for t in tests if wanted(short_id(t))]


def configure_support(use: str) -> None:
    """Settings regrtest would make: quiet, and only the resources asked for (cpu, walltime)."""
    from test import support

    support.verbose = 0
    support.use_resources = [r for r in use.split(",") if r]


def probe_loaded() -> bool:
    return any(name.startswith("_mpdoctor_probe") for name in sys.modules)


class JsonLinesResult(unittest.TestResult):
    """Writes each test's outcome as it happens; enforces the per-test timeout and the budget."""

    def __init__(self, out, test_timeout: float, deadline: float | None) -> None:
        super().__init__()
        self.out = out
        self.test_timeout = test_timeout
        self.deadline = deadline
        self.stopped_by_budget = False
        self._status: dict[str, tuple[str, str]] = {}
        self._started: dict[str, float] = {}

    def emit(self, record: dict) -> None:
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()

    def _arm(self) -> None:
        # Re-armed around every test so class and module fixtures also get a bounded window.
        if self.test_timeout > 0:
            faulthandler.dump_traceback_later(self.test_timeout, exit=True)

    def _set(self, test, status: str, detail: str = "") -> None:
        test_id = short_id(test)
        # A failed subtest or cleanup must not be overwritten by a later success.
        if self._status.get(test_id, ("pass", ""))[0] in ("pass", "skip"):
            self._status[test_id] = (status, detail)

    def startTest(self, test) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.stopped_by_budget = True
            self.stop()
        super().startTest(test)
        test_id = short_id(test)
        self._started[test_id] = time.monotonic()
        self._status[test_id] = ("pass", "")
        self._arm()
        self.emit({"event": "start", "id": test_id})

    def stopTest(self, test) -> None:
        super().stopTest(test)
        test_id = short_id(test)
        status, detail = self._status.pop(test_id, ("pass", ""))
        duration = time.monotonic() - self._started.pop(test_id, time.monotonic())
        self.emit(
            {
                "event": "result",
                "id": test_id,
                "status": status,
                "duration": round(duration, 3),
                "detail": detail,
            }
        )
        self._arm()

    def addError(self, test, err) -> None:
        super().addError(test, err)
        self._record_outside(test, "error", err)

    def addFailure(self, test, err) -> None:
        super().addFailure(test, err)
        self._set(test, "fail", last_line(self._exc_info_to_string(err, test)))

    def addSkip(self, test, reason) -> None:
        super().addSkip(test, reason)
        self._record_outside(test, "skip", None, reason)

    def addExpectedFailure(self, test, err) -> None:
        super().addExpectedFailure(test, err)
        self._set(test, "xfail")

    def addUnexpectedSuccess(self, test) -> None:
        super().addUnexpectedSuccess(test)
        self._set(test, "xpass")

    def addSubTest(self, test, subtest, err) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self._set(
                test, "fail" if failed else "error", last_line(self._exc_info_to_string(err, test))
            )

    def _record_outside(self, test, status: str, err, reason: str = "") -> None:
        """Errors and skips of setUpModule/setUpClass arrive without startTest: record them too."""
        detail = reason if err is None else last_line(self._exc_info_to_string(err, test))
        test_id = short_id(test)
        if test_id in self._status:
            self._set(test, status, detail)
        else:
            self.emit(
                {
                    "event": "result",
                    "id": test_id,
                    "status": status,
                    "duration": 0.0,
                    "detail": detail,
                }
            )


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def restore_sigint() -> None:
    """A shell's background job starts with SIGINT ignored, and Python then keeps it ignored,
    which fails the tests that expect KeyboardInterrupt; give every run Python's usual handler."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    restore_sigint()
    os.environ[METHOD_VAR] = args.start_method  # inherited by every child, which imports the suite
    configure_support(args.use)
    suite_module = __import__(SUITE_MODULE)
    loaded = unittest.defaultTestLoader.loadTestsFromModule(suite_module)
    tests = select(list(iter_tests(loaded)), args.match, args.exclude)
    if args.list:
        for test in tests:
            print(short_id(test))
        return 0
    out = open(args.out, "w") if args.out else sys.stdout
    started = time.monotonic()
    deadline = started + args.budget if args.budget > 0 else None
    result = JsonLinesResult(out, args.test_timeout, deadline)
    result.emit(
        {
            "event": "header",
            "python": sys.version.split()[0],
            "executable": sys.executable,
            "method": args.start_method,
            "pid": os.getpid(),
            "probe": probe_loaded(),
            "session": bool(os.environ.get("MPDOCTOR_SESSION")),
            "planned": [short_id(t) for t in tests],
        }
    )
    unittest.TestSuite(tests).run(result)
    faulthandler.cancel_dump_traceback_later()
    result.emit(
        {
            "event": "end",
            "duration": round(time.monotonic() - started, 3),
            "stopped_by_budget": result.stopped_by_budget,
            "ran": result.testsRun,
        }
    )
    if out is not sys.stdout:
        out.close()
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
