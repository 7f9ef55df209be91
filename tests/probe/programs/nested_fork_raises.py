"""A child started with METHOD forks a grandchild whose target raises: both bootstrap."""

import multiprocessing as mp
import sys


def grandchild():
    raise ValueError("grandchild boom")


def child():
    p = mp.get_context("fork").Process(target=grandchild)
    p.start()
    p.join()
    print("grandchild exitcode", p.exitcode)


if __name__ == "__main__":
    p = mp.get_context(sys.argv[1]).Process(target=child)
    p.start()
    p.join()
    print("child exitcode", p.exitcode)
