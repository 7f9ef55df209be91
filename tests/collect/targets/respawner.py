"""A pool-like tree that outlives main: main forks a supervisor and exits 0 at once.
The supervisor ignores SIGTERM and keeps 3 workers alive, starting a new one whenever one
dies; one worker stops itself (SIGSTOP). Prints the supervisor's pid."""

import os
import signal
import sys
import time

sup = os.fork()
if sup:
    print(f"supervisor={sup}", flush=True)
    time.sleep(0.3)  # let the tree form
    sys.exit(0)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
workers = set()
first = True
while True:
    while len(workers) < 3:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            if first:
                os.kill(os.getpid(), signal.SIGSTOP)
            time.sleep(0.05 + (os.getpid() % 3) * 10)
            os._exit(0)
        first = False
        workers.add(pid)
    pid, _ = os.wait()
    workers.discard(pid)
