"""A ProcessPoolExecutor worker dies by SIGKILL: the pool breaks and terminates the others."""

import multiprocessing as mp
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool


def die(_):
    os.kill(os.getpid(), signal.SIGKILL)  # SITE: die


def nap(_):
    time.sleep(3)


if __name__ == "__main__":
    ex = ProcessPoolExecutor(2, mp_context=mp.get_context(sys.argv[1]))
    slow = ex.submit(nap, 0)
    try:
        ex.submit(die, 0).result()
    except BrokenProcessPool:
        print("broken")
    ex.shutdown()
