"""A get() on an empty Manager queue that nothing will ever fill: the main process waits."""

import multiprocessing

if __name__ == "__main__":
    with multiprocessing.Manager() as manager:
        jobs = manager.Queue()
        print(jobs.get())  # waits in the proxy's generated method, called from here
