"""A fork while a thread of the program waits (argv[1]: start method of the Pool, which replaces
its one worker after each task, so its worker-handler thread forks three times beside the
program's thread and the pool's own). With argv[2] == "trap", sys._current_frames raises: the
probe must get the other threads' stacks without it (on 3.12 it could crash the program at
exit); with "no-memfd", os.memfd_create is gone, as on macOS."""

import multiprocessing as mp
import os
import sys
import threading


def ident(x):
    return x


def _trapped():
    raise AssertionError("sys._current_frames called")


if __name__ == "__main__":
    if sys.argv[2:] == ["trap"]:
        sys._current_frames = _trapped
    if sys.argv[2:] == ["no-memfd"]:
        del os.memfd_create
    stop = threading.Event()
    waiter = threading.Thread(target=stop.wait, name="waiter", daemon=True)
    waiter.start()
    ctx = mp.get_context(sys.argv[1])
    with ctx.Pool(1, maxtasksperchild=1) as pool:
        print(pool.map(ident, range(3), chunksize=1))
    stop.set()
