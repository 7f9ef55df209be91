"""A ProcessPoolExecutor call whose argument holds a lock: the program catches the error and
prints it, which names no object; mpdoctor names the member."""

import threading
from concurrent.futures import ProcessPoolExecutor


def work(item):
    return item


class Job:
    def __init__(self):
        self.lock = threading.Lock()


if __name__ == "__main__":
    with ProcessPoolExecutor(2) as executor:
        future = executor.submit(work, Job())
        try:
            future.result()
        except TypeError as error:
            print("failed:", error)
