"""Start N processes that only sleep, hold them for SECONDS, then join them all.

    python idle_children.py N SECONDS

The monitor's own CPU while it watches them is the cost of watching an idle tree.
"""

import sys
import time
from multiprocessing import Process


def idle(seconds):
    time.sleep(seconds)


if __name__ == "__main__":
    count, seconds = int(sys.argv[1]), float(sys.argv[2])
    children = [Process(target=idle, args=(seconds,)) for _ in range(count)]
    for child in children:
        child.start()
    for child in children:
        child.join()
