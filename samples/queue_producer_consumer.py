"""A producer process fills a Queue; the parent drains it completely before join().

Expect: none
Exit: 0

Draining before join() is the rule of the docs ("Joining processes that use queues"): a child
that has put data on a queue does not exit until the data is flushed to the pipe.
"""

from multiprocessing import Process, Queue

SENTINEL = None


def produce(queue, count):
    for i in range(count):
        queue.put(i * i)
    queue.put(SENTINEL)


if __name__ == "__main__":
    queue = Queue()
    producer = Process(target=produce, args=(queue, 10000))
    producer.start()
    total = 0
    while True:
        item = queue.get()
        if item is SENTINEL:
            break
        total += item
    producer.join()
    print("sum of squares:", total)
