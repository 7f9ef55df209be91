"""The parent SIGKILLs its own child with os.kill: the finding must name the line that killed it.

Expect: process-crashed
Exit: 0

A SIGKILL cannot be caught, so the child leaves no trace of its own; the parent's os.kill call
is the evidence (exit code -9, sent by the main process at the marked line).
"""

import os
import signal
import time
from multiprocessing import Process


def serve():
    while True:
        time.sleep(0.05)


if __name__ == "__main__":
    server = Process(target=serve)
    server.start()  # <- finding (started)
    time.sleep(0.5)
    os.kill(server.pid, signal.SIGKILL)  # <- finding (killed)
    server.join()
    print("server exit code:", server.exitcode)
