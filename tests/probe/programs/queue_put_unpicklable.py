"""A Queue's feeder thread fails to pickle what put() had buffered, in the parent (a Queue)
and in a child (a JoinableQueue): the probe must name the member, and leave
the tracebacks the feeder threads print unchanged. Each dropped item is followed by one that
arrives, so the output does not depend on timing."""

import multiprocessing as mp
import sys
import threading


class Box:
    def __init__(self):
        self.items = [1, 2, threading.Lock()]


def child(tasks, results, done):
    print(tasks.get(timeout=10), flush=True)
    results.put({"guard": threading.Lock()})
    results.put("ok")
    done.wait(10)


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1])
    tasks, results, done = ctx.Queue(), ctx.JoinableQueue(), ctx.Event()
    p = ctx.Process(target=child, args=(tasks, results, done))
    p.start()
    tasks.put(Box())
    tasks.put("next")
    print(results.get(timeout=10), flush=True)
    done.set()
    p.join()
