"""Pool workers that die as they start, with no exception to show: the Pool replaces them forever.

Expect: respawn-loop
Exit: 1
Stopped: respawn-loop

The initializer ends the worker with os._exit(3) (as a crashing C extension would): nothing is
printed, the Pool starts a new worker, which dies too, hundreds of times a second. Plain python
gives up after the 3 s timeout below; mpdoctor stops the loop after a few repetitions.
"""

import os
import sys
from multiprocessing import Pool, TimeoutError


def setup():
    os._exit(3)


def work(x):
    return x


if __name__ == "__main__":
    pool = Pool(2, initializer=setup)  # <- finding (created)
    try:
        # chunksize given: map_async would divide by the pool's size, 0 at moments here
        print(pool.map_async(work, range(4), chunksize=1).get(timeout=3))
    except TimeoutError:
        pool.terminate()
        sys.exit("no result after 3 s")
