"""A Pool never closed: multiprocessing's exit handler terminates it."""

import multiprocessing as mp
import sys

pool = None


def square(x):
    return x * x


if __name__ == "__main__":
    pool = mp.get_context(sys.argv[1]).Pool(2)
    print(pool.map(square, range(3)))
