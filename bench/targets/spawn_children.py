"""Start N spawn-method Processes one after another, each joined before the next.

    python spawn_children.py N

With N=0 it pays everything but the children (imports multiprocessing, makes the context), so
the difference between N=50 and N=0 is the children alone.
"""

import multiprocessing
import sys


def nothing():
    pass


if __name__ == "__main__":
    count = int(sys.argv[1])
    ctx = multiprocessing.get_context("spawn")
    for _ in range(count):
        child = ctx.Process(target=nothing)
        child.start()
        child.join()
        if child.exitcode != 0:
            sys.exit(f"child failed: {child.exitcode}")
