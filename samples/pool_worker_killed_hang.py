"""A Pool worker is killed (SIGKILL, as the OOM killer would) during map(): map() waits forever.

Expect: worker-died
Exit: hangs
Stopped: deadlock

The pool quietly replaces the dead worker, but the task it held is lost, and Pool.map() has no
timeout: the program hangs with every other task done (worker_died.py is the same bug behind a
`get(timeout=3)`). Plain python never ends; mpdoctor sees that the missing result was owned by
a worker that died and stops the program.
"""

import os
import signal
from multiprocessing import Pool


def transform(item):
    if item == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # <- finding (killed)
    return item * 2


if __name__ == "__main__":
    pool = Pool(2)  # <- finding (created)
    print(pool.map(transform, range(8), chunksize=1))
    pool.close()
    pool.join()
