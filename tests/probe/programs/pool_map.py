"""Pool.map in a `with` block (whose exit terminates the workers) under argv[1]."""

import multiprocessing as mp
import sys


def square(x):
    return x * x


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1])
    with ctx.Pool(2) as pool:  # SITE: pool
        print(pool.map(square, range(10)))  # SITE: with-body
    pool2 = ctx.Pool(1)  # SITE: pool2
    print(pool2.apply(square, (7,)))
    pool2.close()
    pool2.join()
