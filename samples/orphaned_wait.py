"""The only producer of a Queue crashes before it puts anything; the parent waits in get().

Expect: orphaned-wait, process-crashed
Exit: hangs
Stopped: deadlock

The child raises ValueError while it parses its input: its traceback is printed and it exits
with code 1, but nothing tells the parent, which blocks in `queue.get()` with no timeout for an
item nobody will ever put. Plain python never ends; mpdoctor sees that no living process can
write to the queue and stops the program.
"""

from multiprocessing import Process, Queue


def parse(queue, text):
    value = int(text)  # raises ValueError: the child dies before its put()
    queue.put(value * 2)


if __name__ == "__main__":
    queue = Queue()
    worker = Process(target=parse, args=(queue, "forty-two"))
    worker.start()
    result = queue.get()  # <- finding (blocked)
    worker.join()
    print("result:", result)
