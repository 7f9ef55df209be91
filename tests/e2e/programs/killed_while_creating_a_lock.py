"""A spawn child killed after creating a named semaphore, before registering it with the
resource tracker (the window a Pool.terminate() or a tear-down can hit): nobody unlinks it.

Prints the semaphore's name, then the child's exit code (-9).
"""

import multiprocessing as mp
import multiprocessing.resource_tracker as tracker
import os
import signal
import sys


def killed_while_registering(name, rtype):
    print(name, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # as a SIGKILL landing between the two would


def create_a_lock():
    tracker.register = killed_while_registering
    mp.get_context("spawn").Lock()


if __name__ == "__main__":
    child = mp.get_context("spawn").Process(target=create_a_lock)
    child.start()
    child.join()
    print(child.exitcode)
    sys.exit(0)
