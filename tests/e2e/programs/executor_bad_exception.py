"""A ProcessPoolExecutor task raises an exception its parent cannot rebuild: a false
BrokenProcessPool (no process died). Caught, reported, exit 1."""

import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool


class LimitError(Exception):
    def __init__(self, name, limit):
        super().__init__(f"{name} over {limit}")


def work(name):
    raise LimitError(name, 3)


if __name__ == "__main__":
    with ProcessPoolExecutor(2) as executor:
        try:
            executor.submit(work, "x").result()
        except BrokenProcessPool as exc:
            sys.exit(f"broken pool: {exc}")
