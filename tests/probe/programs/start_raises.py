"""Process.start() raises in the parent: an unpicklable lock argument, a local function."""

import multiprocessing as mp
import sys
import threading


def use(lock):
    pass


def main():
    ctx = mp.get_context(sys.argv[1])
    try:
        ctx.Process(target=use, args=(threading.Lock(),)).start()
    except TypeError as exc:
        print("caught:", exc)

    def local():
        pass

    ctx.Process(target=local).start()


if __name__ == "__main__":
    main()
