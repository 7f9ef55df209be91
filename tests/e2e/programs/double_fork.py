"""A daemon-style double fork: the first child forks again and exits at once, before its fork
hook ever registers the probe; the parent reaps it only later (a zombie meanwhile)."""

import os
import time

if __name__ == "__main__":
    first = os.fork()
    if first == 0:
        if os.fork() == 0:
            time.sleep(0.3)
        os._exit(0)
    time.sleep(0.5)
    os.waitpid(first, 0)
