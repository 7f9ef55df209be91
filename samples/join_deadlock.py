"""The parent joins a producer before reading its result: the child can never exit.

Expect: join-deadlock
Exit: hangs
Stopped: deadlock

The child puts about 1 MB on a Queue. A Queue writes to a pipe from a feeder thread, and a
process that has put data does not exit until that thread has flushed it all ("Joining
processes that use queues" in the docs). The pipe holds 64 KiB: the child waits for the parent
to read, the parent waits in join() for the child to exit, forever. Plain python never ends;
mpdoctor sees both sides of the wait and stops the program.
"""

from multiprocessing import Process, Queue


def produce(queue):
    data = bytes(1_000_000)  # 1 MB: far more than a pipe holds (64 KiB on Linux)
    queue.put(data)


if __name__ == "__main__":
    queue = Queue()
    producer = Process(target=produce, args=(queue,))
    producer.start()
    producer.join()  # <- finding (blocked)
    data = queue.get()  # never reached: get() before join() would have worked
    print("received", len(data), "bytes")
