"""A Pool worker dies in a task whose result the program never asks for; the program goes on
and ends well: worker-died, without a claim that anything waits forever."""

import os
import signal
import time
from multiprocessing import Pool


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def double(x):
    return x * 2


if __name__ == "__main__":
    with Pool(2) as pool:
        pool.apply_async(die)  # its result is never asked for
        time.sleep(0.5)
        print(pool.map(double, range(4)))
