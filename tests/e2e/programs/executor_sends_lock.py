"""ProcessPoolExecutor.submit() with a lock among the arguments (fails in the feeder thread)."""

import threading
from concurrent.futures import ProcessPoolExecutor


def work(value, guard):
    return value


if __name__ == "__main__":
    with ProcessPoolExecutor(2) as executor:
        future = executor.submit(work, 1, guard=threading.Lock())
        print(future.result())
