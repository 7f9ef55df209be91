"""The main process ends with os._exit() while a non-daemon helper it started keeps running.

Expect: orphan-process
Exit: 0

os._exit skips multiprocessing's exit handler, which would have joined the helper, so the
helper outlives main with nobody to wait for it (it gives up by itself after 5 s, so a plain run
leaves nothing behind for long).
"""

import os
import time
from multiprocessing import Process


def flush_cache_later():
    time.sleep(5)


if __name__ == "__main__":
    helper = Process(target=flush_cache_later)
    helper.start()  # <- finding (started)
    print("main done", flush=True)
    os._exit(0)
