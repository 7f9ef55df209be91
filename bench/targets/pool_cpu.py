"""A CPU-bound Pool.map of a few seconds on 2 workers: the proportional cost of watching.

    python pool_cpu.py [TASKS] [LOOPS]

Each task is a pure-Python loop, so the work is the same in every run and needs no data.
"""

import sys
from multiprocessing import Pool


def burn(loops):
    total = 0
    for i in range(loops):
        total += i * i % 7
    return total


if __name__ == "__main__":
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    loops = int(sys.argv[2]) if len(sys.argv) > 2 else 8_000_000
    with Pool(2) as pool:
        print(sum(pool.map(burn, [loops] * tasks, chunksize=1)))
