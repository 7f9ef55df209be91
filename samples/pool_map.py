"""Pool.map over a range: the classic data-parallel example.

Expect: none
Exit: 0

The pool is closed and joined explicitly, so every worker exits on its own.
"""

from multiprocessing import Pool


def square(x):
    return x * x


if __name__ == "__main__":
    pool = Pool(processes=2)
    try:
        print(sum(pool.map(square, range(1000), chunksize=50)))
    finally:
        pool.close()
        pool.join()
