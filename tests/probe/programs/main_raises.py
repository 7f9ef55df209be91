"""The main process raises after using a child: Python's own traceback, exit code 1."""

import multiprocessing as mp
import sys


def work():
    print("child ran", flush=True)


def fail(value):
    raise RuntimeError("main failed with %s" % value)


if __name__ == "__main__":
    p = mp.get_context(sys.argv[1]).Process(target=work)
    p.start()
    p.join()
    fail(p.exitcode)
