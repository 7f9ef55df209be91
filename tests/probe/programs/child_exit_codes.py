"""Children ending with sys.exit(3), sys.exit("message"), os._exit(7) and SIGTERM."""

import multiprocessing as mp
import os
import sys


def exit_with(how):
    if how == "three":
        sys.exit(3)
    if how == "message":
        sys.exit("child says goodbye")
    if how == "os._exit":
        os._exit(7)
    os.kill(os.getpid(), 15)


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1])
    for how in ("three", "message", "os._exit", "sigterm"):
        p = ctx.Process(target=exit_with, args=(how,))
        p.start()
        p.join()
        print(how, p.exitcode, flush=True)
