"""Hold a tree of N Python processes (the root included), every one blocked, until stdin closes.

    python sleeping_tree.py N [fork|spawn] [LIFETIME]

The root starts its children with the start method named (fork by default: the tree is up in
a fraction of a second), prints "ready" once they have all started, and blocks reading stdin.
With spawn, multiprocessing also starts its resource tracker (a Python process of the tree), so
the root starts N - 2 children: the tree is N processes either way. Each child sleeps for
LIFETIME seconds (600 by default) and the root ends them when its stdin reaches end of file (the
bench that started it closed the pipe, or died), so nothing outlives a bench for long even when
the process group cannot be killed.
"""

import multiprocessing
import sys
import time


def idle(seconds):
    time.sleep(seconds)


if __name__ == "__main__":
    total = int(sys.argv[1])
    method = sys.argv[2] if len(sys.argv) > 2 else "fork"
    lifetime = float(sys.argv[3]) if len(sys.argv) > 3 else 600.0
    ctx = multiprocessing.get_context(method)
    count = total - (2 if method == "spawn" else 1)
    children = [ctx.Process(target=idle, args=(lifetime,), daemon=True) for _ in range(count)]
    for child in children:
        child.start()
    print("ready", flush=True)
    sys.stdin.read()
    for child in children:
        child.terminate()
    for child in children:
        child.join()
