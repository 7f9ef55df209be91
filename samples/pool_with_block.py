"""A Pool used as a context manager: leaving the block terminates its workers with SIGTERM.

Expect: none
Exit: 0

`Pool.__exit__` calls terminate(), which sends SIGTERM to every worker: that is
multiprocessing's own clean-up, not a crash, and must never be reported as one.
"""

from multiprocessing import Pool


def double(x):
    return 2 * x


if __name__ == "__main__":
    with Pool(3) as pool:
        print(pool.map(double, range(20)))
