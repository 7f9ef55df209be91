"""Reads stdin to its end, writes it back on stdout, a line on stderr, and its fds' targets."""

import os
import sys

data = sys.stdin.buffer.read()
sys.stdout.buffer.write(b"out:" + data)
sys.stdout.flush()
sys.stderr.write("err-line\n")
for fd in (0, 1, 2):
    try:
        sys.stderr.write(f"fd{fd}={os.readlink(f'/proc/self/fd/{fd}')}\n")
    except OSError:
        pass
