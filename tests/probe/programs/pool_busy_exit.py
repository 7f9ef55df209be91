"""Leave a `with Pool()` block while a worker is busy: its exit SIGTERMs that worker."""

import multiprocessing as mp
import sys
import time

started = None


def init(event):
    global started
    started = event


def busy(_):
    started.set()
    time.sleep(60)


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1])
    event = ctx.Event()
    with ctx.Pool(1, initializer=init, initargs=(event,)) as pool:  # SITE: pool
        pool.apply_async(busy, (0,))
        event.wait(30)  # SITE: with-body
    print("left the pool")
