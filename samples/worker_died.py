"""A Pool worker is killed (SIGKILL, as the OOM killer would) in the middle of map_async.

Expect: worker-died
Exit: 1

The pool quietly replaces the dead worker, but the task it held is lost: without the timeout,
`get()` would wait forever. The program gives up after 3 s, terminates the pool (its SIGTERMs
are clean-up, not a finding) and exits with a message.
"""

import os
import signal
import sys
from multiprocessing import Pool, TimeoutError


def transform(item):
    if item == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # <- finding (killed)
    return item * 2


if __name__ == "__main__":
    pool = Pool(2)  # <- finding (created)
    pending = pool.map_async(transform, range(8), chunksize=1)
    try:
        print(pending.get(timeout=3))
    except TimeoutError:
        pool.terminate()
        pool.join()
        sys.exit("no result after 3 s: a pool worker died and its task was lost")
    pool.close()
    pool.join()
