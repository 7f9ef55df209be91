"""orphaned_poll.py's mistake written with the commonest polling idiom, `get(timeout=...)`.

The only producer raises before its put(); the parent retries a timed get() forever.
"""

import queue
from multiprocessing import Process, Queue


def parse(results, text):
    results.put(int(text) * 2)  # raises ValueError: nothing is ever put


if __name__ == "__main__":
    results = Queue()
    worker = Process(target=parse, args=(results, "forty-two"))
    worker.start()
    while True:
        try:
            print("result:", results.get(timeout=0.1))  # the loop never ends
            break
        except queue.Empty:
            continue
