"""Twenty fork children one after another; the tenth exits with status 3 (`process-crashed`).

The console tree folds each long run of alike children around it; the JSON report lists all.
"""

import multiprocessing
import sys


def work(index):
    if index == 9:
        sys.exit(3)


if __name__ == "__main__":
    ctx = multiprocessing.get_context("fork")
    for index in range(20):
        child = ctx.Process(target=work, args=(index,))
        child.start()
        child.join()
