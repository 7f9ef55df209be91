"""A result read after its `with Pool()` block: leaving the block terminated the pool.

Expect: pool-terminated
Exit: hangs
Stopped: deadlock

`map_async()` returns at once, and `Pool.__exit__` calls terminate(), not close() and join():
the workers are killed with their tasks unfinished, and the AsyncResult is never completed nor
failed. `pending.get()` with no timeout waits forever. Plain python never ends; mpdoctor sees
that the pool the result belongs to is gone and stops the program.
"""

import time
from multiprocessing import Pool


def slow_square(x):
    time.sleep(0.2)
    return x * x


if __name__ == "__main__":
    with Pool(2) as pool:  # <- finding (terminated)
        pending = pool.map_async(slow_square, range(8))
    print(pending.get())  # <- finding (blocked)
