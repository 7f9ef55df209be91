"""A parent and its child both sleep for a while, then exit: slow, not hung.

Expect: none
Exit: 0

`python samples/long_sleep.py [SECONDS]` (4 s by default): the child sleeps, the parent sleeps
too and then joins it. Nothing runs for the whole time, and nothing is wrong: a sleep always
ends, so this is never a deadlock.
"""

import sys
import time
from multiprocessing import Process


def nap(seconds):
    time.sleep(seconds)


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 4.0
    child = Process(target=nap, args=(seconds,))
    child.start()
    time.sleep(seconds)
    child.join()
    print("both slept %.1f s; child exit code %s" % (seconds, child.exitcode))
