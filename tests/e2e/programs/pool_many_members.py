"""apply_async with nested containers holding several unpicklable members, one of them twice."""

import threading
from multiprocessing import Pool


class Node:
    def __init__(self, children=()):
        self.lock = threading.RLock()
        self.children = list(children)
        self.meta = {"gen": (i for i in range(2)), "ok": [1, 2, 3]}


def size(node, extra=None):
    return 1


if __name__ == "__main__":
    shared = threading.Lock()
    tree = Node([Node(), Node()])
    with Pool(1) as pool:
        print(pool.apply_async(size, (tree,), {"extra": (shared, shared)}).get(timeout=10))
