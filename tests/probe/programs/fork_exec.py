"""A plain os.fork child that execs Python again: `start` forked, `exec`, then the new image."""

import os
import sys
import threading

if __name__ == "__main__":
    t = threading.Thread(target=threading.Event().wait, args=(0.5,))
    t.start()  # a second thread alive at fork
    pid = os.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "-c", "print('exec image')"])
    os.waitpid(pid, 0)
    t.join()
    print("parent done")
