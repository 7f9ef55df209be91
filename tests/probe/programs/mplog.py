"""A Process and a Pool under argv[1]; with argv[2] == "self" the program calls log_to_stderr."""

import logging
import multiprocessing as mp
import sys


def work(x):
    return x + 1


if __name__ == "__main__":
    if sys.argv[2:] == ["self"]:
        mp.log_to_stderr(logging.INFO)
    ctx = mp.get_context(sys.argv[1])
    p = ctx.Process(target=work, args=(1,), name="Solo")
    p.start()
    p.join()
    with ctx.Pool(2) as pool:
        print(pool.map(work, range(3)))
