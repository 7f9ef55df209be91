"""maxtasksperchild=1: the worker-handler thread replaces each worker after one task."""

import multiprocessing as mp
import sys


def ident(x):
    return x


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1])
    with ctx.Pool(1, maxtasksperchild=1) as pool:  # SITE: pool
        print(pool.map(ident, range(3), chunksize=1))
