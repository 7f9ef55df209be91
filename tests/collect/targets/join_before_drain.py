"""The parent joins a child before reading the 1 MB the child put on a Queue: both wait forever.
Prints the child's pid."""

import multiprocessing as mp


def produce(queue):
    queue.put("x" * 1_000_000)


if __name__ == "__main__":
    queue = mp.Queue()
    child = mp.Process(target=produce, args=(queue,))
    child.start()
    print(child.pid, flush=True)
    child.join()
    print(len(queue.get()))
