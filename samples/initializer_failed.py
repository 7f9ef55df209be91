"""A Pool initializer that fails in every worker: the Pool replaces them forever.

Expect: initializer-failed
Exit: 1
Stopped: respawn-loop

`connect()` raises in each new worker; Pool replaces the dead worker with one that fails the
same way, printing the traceback hundreds of times a second, and map() never returns. Plain
python gives up after the 3 s timeout below; mpdoctor stops the loop after a few repetitions
(exit 124) and shows the traceback once.
"""

import sys
from multiprocessing import Pool, TimeoutError


def connect():
    raise ConnectionError("database is not reachable")  # <- finding (raised)


def lookup(key):
    return key


if __name__ == "__main__":
    pool = Pool(2, initializer=connect)  # <- finding (created)
    try:
        # chunksize given: map_async would divide by the pool's size, 0 at moments here
        print(pool.map_async(lookup, range(4), chunksize=1).get(timeout=3))
    except TimeoutError:
        pool.terminate()
        sys.exit("no result after 3 s")
