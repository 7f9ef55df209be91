"""A child dies of SIGSEGV inside C code (ctypes reads address 0), as a broken extension would.

Expect: process-crashed
Exit: 1

Nothing is printed by the dying child: only its exit code (-11) tells. The parent checks it and
exits with a message; the finding names the signal and the child.
"""

import ctypes
import resource
import sys
from multiprocessing import Process


def decode_frame():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file left in the working tree
    ctypes.string_at(0)  # reads address 0: SIGSEGV


if __name__ == "__main__":
    decoder = Process(target=decode_frame)
    decoder.start()  # <- finding (started)
    decoder.join()
    if decoder.exitcode != 0:
        sys.exit(f"decoder failed with exit code {decoder.exitcode}")
