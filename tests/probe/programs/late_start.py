"""The probe started after multiprocessing was imported (as from a .pth file): hooks still apply."""

import multiprocessing.pool
import os
import sys


def square(x):
    return x * x


if __name__ == "__main__":
    os.environ["MPDOCTOR_SESSION"] = sys.argv[1]
    sys.path.insert(0, sys.argv[2])
    import _mpdoctor_probe

    sys.path.pop(0)
    _mpdoctor_probe.start()
    with multiprocessing.pool.Pool(1) as pool:  # SITE: pool
        print(pool.map(square, range(3)))
