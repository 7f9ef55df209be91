"""A Pool at module level with the default start method: fine under fork (Linux up to Python
3.13), a respawn loop under spawn (macOS, Windows) and forkserver (Python 3.14)."""

import multiprocessing


def double(x):
    return 2 * x


with multiprocessing.Pool(2) as pool:
    print(pool.map(double, range(4)))
