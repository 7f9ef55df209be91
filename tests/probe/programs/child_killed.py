"""Two children killed by SIGKILL: one by os.kill (user), one by Process.kill()."""

import multiprocessing as mp
import os
import signal
import sys
import time


def sleeper(ready):
    ready.set()
    time.sleep(60)


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1])
    for how in ("os.kill", "Process.kill"):
        ready = ctx.Event()
        p = ctx.Process(target=sleeper, args=(ready,))
        p.start()
        ready.wait(30)
        if how == "os.kill":
            os.kill(p.pid, signal.SIGKILL)  # SITE: os.kill
        else:
            p.kill()  # SITE: p.kill
        p.join()
        print(how, "exitcode", p.exitcode)
