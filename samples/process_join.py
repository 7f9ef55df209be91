"""Start a Process and join it: the first example of the multiprocessing docs.

Expect: none
Exit: 0

The child greets from its own process; the parent waits for it with join() and checks its exit code.
"""

import os
from multiprocessing import Process


def greet(name, parent_pid):
    print("hello", name, "from another process:", os.getpid() != parent_pid, flush=True)


if __name__ == "__main__":
    p = Process(target=greet, args=("bob", os.getpid()))
    p.start()
    p.join()
    print("child exit code:", p.exitcode)
