"""A task exception whose __init__ has a side effect (a print) must not be rebuilt in the worker."""

import multiprocessing as mp


class Failed(Exception):
    def __init__(self, item):
        print("Failed created for", item, flush=True)  # e.g. a logging side effect
        super().__init__(item)


def task(i):
    raise Failed(i)


if __name__ == "__main__":
    with mp.Pool(1) as p:
        try:
            p.apply(task, (1,))
        except Failed as e:
            print("caught", e, flush=True)
