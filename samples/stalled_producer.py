"""The parent waits for a result that a live child will only send once a file appears, and
nobody ever creates that file: nothing is deadlocked, yet nothing will ever happen.

Expect: no-progress
Exit: hangs

No wait here is provably endless (the child sleeps between its checks: a timed wait), so
mpdoctor does not stop the program; after --hang-after seconds without progress it reports what
each process waits on and where: the parent in Queue.get(), the child in its polling loop.
"""

import os
import tempfile
import time
from multiprocessing import Process, Queue

READY = os.path.join(tempfile.gettempdir(), "mpdoctor-sample-never-created.flag")


def producer(queue):
    while not os.path.exists(READY):  # nobody creates it: the input step was forgotten
        time.sleep(0.5)  # <- finding (waiting)
    queue.put("data")


if __name__ == "__main__":
    queue = Queue()
    Process(target=producer, args=(queue,)).start()
    print(queue.get())  # <- finding (waiting)
