"""A Process with join under the start method in argv[1]."""

import multiprocessing as mp
import sys


def greet(name):
    print("hello", name, flush=True)


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1])
    p = ctx.Process(target=greet, args=("world",), name="greeter")
    p.start()  # SITE: start
    p.join()
    print("exitcode", p.exitcode)
