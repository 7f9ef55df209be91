"""A fork child takes its own Lock twice while its parent runs another thread: the child hangs
for good, and fork() did not copy that lock (the child created it)."""

import multiprocessing
import threading
import time


def tick():
    while True:
        time.sleep(0.2)


def child():
    lock = threading.Lock()
    lock.acquire()
    lock.acquire()  # the child's own thread holds it already


if __name__ == "__main__":
    threading.Thread(target=tick, daemon=True).start()
    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join()
