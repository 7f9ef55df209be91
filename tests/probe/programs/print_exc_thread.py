"""In a child, traceback.print_exc is the first frame of a thread (no caller frame at all)."""

import _thread
import multiprocessing as mp
import sys
import time
import traceback


def child():
    done = []
    _thread.start_new_thread(lambda: (traceback.print_exc(), done.append(1)), ())
    _thread.start_new_thread(traceback.print_exc, ())
    while not done:
        time.sleep(0.01)
    time.sleep(0.2)


if __name__ == "__main__":
    p = mp.get_context(sys.argv[1]).Process(target=child)
    p.start()
    p.join()
    print("exitcode", p.exitcode)
