"""QA's program: an object holding a lock given to Queue.put(). put() returns at once; the
queue's feeder thread fails to pickle it later, prints the TypeError and drops the item, so the
consumer's get(timeout=2) raises Empty. mpdoctor must say unpicklable-object, naming
`object -> Box.items[2] (_thread.lock)` and line 23 (the put) as where it was sent."""

import multiprocessing as mp
import threading


class Box:
    def __init__(self):
        self.items = [1, 2, threading.Lock()]


def consumer(q):
    print(q.get(timeout=2))


if __name__ == "__main__":
    q = mp.Queue()
    p = mp.Process(target=consumer, args=(q,))
    p.start()
    q.put(Box())
    p.join()
