"""A child exits at once, but the parent reaps it only 3 s later: a zombie ("defunct") meanwhile.

Expect: zombie-process
Exit: 0
Methods: fork, spawn

Until join() (or active_children()) waits for it, the exited child keeps its process table
entry. Under forkserver the fork server reaps its children itself, so there is no zombie there.
"""

import time
from multiprocessing import Process


def quick_task():
    pass


if __name__ == "__main__":
    child = Process(target=quick_task)
    child.start()  # <- finding (started)
    time.sleep(3)  # the child is a zombie all this time
    child.join()
    print("child reaped")
