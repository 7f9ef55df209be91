"""A Pool worker is SIGKILLed while the pool is open (start method from argv[1])."""

import multiprocessing as mp
import os
import sys


def work(x):
    if x == 3:
        os.kill(os.getpid(), 9)
    return x


if __name__ == "__main__":
    mp.set_start_method(sys.argv[1])
    with mp.Pool(2) as pool:
        result = pool.map_async(work, [3])
        result.wait(1.0)
    print("done")
