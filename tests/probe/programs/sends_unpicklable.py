"""Sends a lock (inside an object) and a lambda through the start method given, then lets the
error escape: the probe must name both members and leave the printed traceback unchanged."""

import multiprocessing as mp
import sys
import threading


class Job:
    def __init__(self):
        self.guard = threading.Lock()


def run(job, callback):
    return job


if __name__ == "__main__":
    with mp.get_context(sys.argv[1]).Pool(1) as pool:
        pool.apply(run, (Job(), lambda: 0))
