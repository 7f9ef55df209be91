"""The parent joins a producer before its main thread reads the queue, but a thread drains it.

Expect: none
Exit: 0

The child puts about 1 MB on a Queue, more than the pipe holds, so it cannot exit until someone
reads. The main thread joins it at once, as in join_deadlock.py, but a reader thread started
before the join() gets the data 3 s later: the child's feeder thread finishes, the child exits
and join() returns. For 3 s both processes wait on each other, and it is not a deadlock.
"""

import threading
import time
from multiprocessing import Process, Queue


def produce(queue):
    data = bytes(1_000_000)  # 1 MB: far more than a pipe holds (64 KiB on Linux)
    queue.put(data)


def drain_later(queue, received):
    time.sleep(3)  # busy elsewhere for a while
    received.append(queue.get())


if __name__ == "__main__":
    queue = Queue()
    received = []
    reader = threading.Thread(target=drain_later, args=(queue, received))
    reader.start()
    producer = Process(target=produce, args=(queue,))
    producer.start()
    producer.join()  # returns once the reader thread has drained the queue
    reader.join()
    print("received", len(received[0]), "bytes; producer exit code", producer.exitcode)
