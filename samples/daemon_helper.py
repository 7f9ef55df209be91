"""A daemonic helper process runs until the program ends; multiprocessing terminates it at exit.

Expect: none
Exit: 0

Daemonic children are ended by multiprocessing's exit handler (SIGTERM) when the main process
finishes: that is their documented life, not a crash.
"""

import time
from multiprocessing import Event, Process


def heartbeat(ready):
    ready.set()
    while True:
        time.sleep(0.05)


if __name__ == "__main__":
    ready = Event()
    helper = Process(target=heartbeat, args=(ready,), daemon=True)
    helper.start()
    ready.wait(10)
    print("work done while the helper ran")
