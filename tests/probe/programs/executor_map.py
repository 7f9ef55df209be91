"""ProcessPoolExecutor.map under argv[1], then shutdown by the `with` block."""

import multiprocessing as mp
import sys
from concurrent.futures import ProcessPoolExecutor


def cube(x):
    return x * x * x


if __name__ == "__main__":
    with ProcessPoolExecutor(2, mp_context=mp.get_context(sys.argv[1])) as ex:  # SITE: executor
        print(list(ex.map(cube, range(6))))
