"""Shared memory created and never unlinked: the resource tracker warns at shutdown."""

import multiprocessing as mp
import sys
from multiprocessing import shared_memory

if __name__ == "__main__":
    mp.set_start_method(sys.argv[1])
    shm = shared_memory.SharedMemory(create=True, size=64)
    shm.buf[0] = 1
    shm.close()  # closed, never unlinked
    print("leaked", shm.name.lstrip("/"))
