"""A fork while another thread holds a lock: the child's copy of the lock is held forever.

Expect: fork-with-threads
Exit: hangs
Stopped: deadlock

A background thread flushes a buffer every 50 ms, holding `lock` while it writes. fork()
copies the whole memory, locks included, but only the thread that called it: the child gets
`lock` in its held state, and the thread that would release it does not exist there. The
child's `with lock:` waits forever, and so does the parent's join(). Linux only (it uses the
fork start method explicitly, whatever the default is); Python 3.12+ deprecates fork() in a
multi-threaded process for this reason.

The flusher holds the lock except for a few bytecodes per round, during which it holds the
GIL, so the main thread (which needs the GIL to fork) always forks while the lock is held; it
waits for the first round to start before it forks, so the hang does not depend on timing.
"""

import multiprocessing
import threading
import time

lock = threading.Lock()
flushing = threading.Event()


def flush_forever():
    while True:
        with lock:
            flushing.set()
            time.sleep(0.05)  # writing the buffer out, lock held


def append_record():
    with lock:  # <- finding (blocked)
        print("child: record appended", flush=True)


if __name__ == "__main__":
    threading.Thread(target=flush_forever, daemon=True).start()
    flushing.wait()
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=append_record)
    child.start()  # <- finding (forked)
    child.join()
    print("parent: child done")
