"""A spawn ProcessPoolExecutor used at module level: its worker dies re-importing the main module
and the executor raises BrokenProcessPool."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor


def double(x):
    return x * 2


with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as executor:
    print(list(executor.map(double, range(4))))
