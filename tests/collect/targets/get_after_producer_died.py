"""The producer raises before putting anything; the parent waits in Queue.get() forever (it
holds the queue's only write end left). Prints the child's pid."""

import multiprocessing as mp


def produce(queue):
    raise RuntimeError("no data")


if __name__ == "__main__":
    queue = mp.Queue()
    child = mp.Process(target=produce, args=(queue,))
    child.start()
    print(child.pid, flush=True)
    child.join()
    print(queue.get())
