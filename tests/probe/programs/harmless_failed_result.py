"""A worker's unpicklable 50 MB result must not stay alive after the failure."""

import gc
import multiprocessing as mp
import sys
import weakref


class Big:
    def __init__(self):
        self.f = lambda: 0
        self.data = bytearray(50 * 2**20)


ref = None


def make(_):
    global ref
    b = Big()
    ref = weakref.ref(b)
    return b


def check(_):
    gc.collect()
    return ref() is not None


if __name__ == "__main__":
    with mp.Pool(1) as p:
        try:
            p.apply(make, (0,))
        except Exception as e:
            print("error:", type(e).__name__)
        print("50 MB result still alive in worker:", p.apply(check, (0,)))
        print("parent loaded _pickling:", "_mpdoctor_probe._pickling" in sys.modules)
