"""Pool workers busy with CPU-bound tasks for about 3 s: slow, not hung.

Expect: none
Exit: 0

Pool(2).map() over 6 tasks of about 1 s of pure computation each: the parent waits in map()
for 3 s while both workers use a CPU each. Nothing is stuck: the workers make progress all
along.
"""

import time
from multiprocessing import Pool


def crunch(seed):
    """Iterate a hash for about a second; return how many rounds of 1000 steps it made."""
    value, rounds = seed, 0
    deadline = time.perf_counter() + 1.0
    while time.perf_counter() < deadline:
        for _ in range(1000):
            value = (value * 6364136223846793005 + 1442695040888963407) % 2**64
        rounds += 1
    return rounds


if __name__ == "__main__":
    with Pool(2) as pool:
        rounds = pool.map(crunch, range(6), chunksize=1)
    print("%d tasks, %d rounds of 1000 steps in all" % (len(rounds), sum(rounds)))
