"""A join-before-drain deadlock whose moment of forming is printed: `<time.time()>` on stdout
just before the parent joins a child whose queue holds 1 MB (bench/hangs.py reads it)."""

import multiprocessing as mp
import sys
import time


def child(queue):
    queue.put(bytes(1_000_000))


if __name__ == "__main__":
    if len(sys.argv) > 1:
        mp.set_start_method(sys.argv[1])
    queue = mp.Queue()
    process = mp.Process(target=child, args=(queue,))
    process.start()
    time.sleep(0.3)  # the child has put its data and its feeder is blocked on the full pipe
    print(time.time(), flush=True)
    process.join()
