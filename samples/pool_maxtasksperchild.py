"""A Pool whose workers retire after two tasks each (maxtasksperchild=2).

Expect: none
Exit: 0

Workers exit normally after their quota and the pool starts fresh ones: worker turnover by
design, not worker deaths.
"""

import os
from multiprocessing import Pool


def whoami(_):
    return os.getpid()


if __name__ == "__main__":
    pool = Pool(2, maxtasksperchild=2)
    try:
        pids = pool.map(whoami, range(12), chunksize=1)
    finally:
        pool.close()
        pool.join()
    print("tasks:", len(pids), "several workers:", len(set(pids)) > 2)
