"""For any Python 2.7+: a Pool, a crashing child, sys.path and sitecustomize as the program sees them."""
from __future__ import print_function

import multiprocessing
import sys


def square(x):
    return x * x


def crash():
    raise ValueError("legacy child failed")


if __name__ == "__main__":
    pool = multiprocessing.Pool(2)
    print(pool.map(square, range(5)))
    pool.close()
    pool.join()
    p = multiprocessing.Process(target=crash)
    p.start()
    p.join()
    print("exitcode", p.exitcode)
    print("sitecustomize" in sys.modules, [x for x in sys.path if "probe" in x])
    sys.exit(3)
