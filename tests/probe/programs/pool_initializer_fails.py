"""A Pool initializer that raises: each worker dies with a traceback and the pool respawns it."""

import multiprocessing as mp
import sys
import time


def bad_init():
    raise OSError("database unreachable")


if __name__ == "__main__":
    pool = mp.get_context(sys.argv[1]).Pool(1, initializer=bad_init)
    time.sleep(1.0)
    pool.terminate()
    pool.join()
    print("terminated")
