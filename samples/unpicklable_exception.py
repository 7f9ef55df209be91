"""A task raises an exception the parent cannot rebuild: Pool would wait forever.

Expect: unpicklable-exception
Exit: 1

An exception travels as its class and its `args`, and the parent calls `cls(*args)`.
`QuotaError.__init__` takes two arguments but passes one message to `Exception.__init__`, so the
rebuild raises TypeError in the pool's result-handler thread, which dies: `get()` without a
timeout never returns. The program gives up after 3 s.
"""

import sys
from multiprocessing import Pool, TimeoutError


class QuotaError(Exception):
    def __init__(self, user, limit):  # <- finding (defined)
        super().__init__(f"{user} is over the quota of {limit}")
        self.user = user
        self.limit = limit


def charge(user):
    raise QuotaError(user, 100)


if __name__ == "__main__":
    pool = Pool(2)
    pending = pool.map_async(charge, ["alice", "bob"])
    try:
        pending.get(timeout=3)
    except TimeoutError:
        pool.terminate()
        pool.join()
        sys.exit("no result after 3 s: the pool's result handler died")
