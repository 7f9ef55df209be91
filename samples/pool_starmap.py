"""Pool.starmap with argument tuples.

Expect: none
Exit: 0

Each task is a tuple unpacked into the function's arguments.
"""

from multiprocessing import Pool


def power(base, exponent):
    return base**exponent


if __name__ == "__main__":
    pairs = [(b, e) for b in range(2, 6) for e in range(4)]
    pool = Pool(2)
    try:
        print(pool.starmap(power, pairs))
    finally:
        pool.close()
        pool.join()
