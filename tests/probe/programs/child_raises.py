"""A process target that raises: multiprocessing prints the traceback; exit code 1."""

import multiprocessing as mp
import sys


def inner(n):
    return {"a": 1}[n]


def target(n):
    return inner(n)


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1])
    p = ctx.Process(target=target, args=("missing",))
    p.start()
    p.join()
    print("exitcode", p.exitcode)
