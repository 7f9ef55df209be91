"""atexit handlers around multiprocessing's own: their order must not change."""

import atexit
import sys


def square(x):
    return x * x


if __name__ == "__main__":
    atexit.register(print, "atexit 1 (before multiprocessing)")
    import multiprocessing as mp

    atexit.register(print, "atexit 2 (after import)")
    ctx = mp.get_context(sys.argv[1])
    with ctx.Pool(2) as pool:
        print(pool.map(square, range(4)))
    atexit.register(print, "atexit 3 (after pool)")
    q = ctx.Queue()
    q.put("item")
    print(q.get())
    atexit.register(print, "atexit 4 (after queue)")
