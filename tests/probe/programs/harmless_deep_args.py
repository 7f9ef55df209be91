"""A spawn Process sent a lambda and a 100,000-node linked list, with the recursion limit
raised: the search must stop at its depth limit, not crash the process (3.8 segfaulted)."""

import multiprocessing as mp
import sys


class Node:
    def __init__(self, nxt):
        self.nxt = nxt


def f(*a):
    pass


if __name__ == "__main__":
    mp.set_start_method("spawn")
    head = None
    for _ in range(100000):
        head = Node(head)
    sys.setrecursionlimit(1000000)
    mp.Process(target=f, args=(lambda: 0, head)).start()
