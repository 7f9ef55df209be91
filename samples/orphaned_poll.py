"""The only producer of a Queue crashes; the parent polls `queue.empty()` for its result forever.

Expect: orphaned-wait, process-crashed
Exit: hangs

As in orphaned_wait.py the child raises ValueError before it puts anything, but the parent
does not block in get(): it sleeps and polls in a loop that nothing will ever end. A polling
loop is not a wait mpdoctor can prove endless (the program could end it itself), so mpdoctor
does not stop it: it reports the loop once the program has made no progress for --hang-after.
"""

import time
from multiprocessing import Process, Queue


def parse(queue, text):
    value = int(text)  # raises ValueError: the child dies before its put()
    queue.put(value * 2)


if __name__ == "__main__":
    queue = Queue()
    worker = Process(target=parse, args=(queue, "forty-two"))
    worker.start()
    while queue.empty():  # <- finding (blocked)
        time.sleep(0.1)
    print("result:", queue.get())
    worker.join()
