"""A function defined after the Pool was created: fork workers do not have it.

Expect: unpicklable-callable
Exit: 1

Fork workers copy the main module when they start. `triple` is defined later, so each worker
fails to unpickle the task ("Can't get attribute 'triple' on <module '__main__' from ...>") and
dies with it; the task is lost and get() without a timeout would wait forever.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    pool = multiprocessing.get_context("fork").Pool(1)  # <- finding (created)

    def triple(x):
        return 3 * x

    triple.__qualname__ = "triple"  # as if defined at module level, after the pool
    sys.modules["__main__"].triple = triple
    try:
        print(pool.map_async(triple, [1, 2]).get(timeout=3))
    except multiprocessing.TimeoutError:
        pool.terminate()
        sys.exit("no result after 3 s: the worker could not find triple()")
